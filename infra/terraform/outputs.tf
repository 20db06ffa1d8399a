output "storage_account_name" {
  value = azurerm_storage_account.main.name
}

output "blob_service_uri" {
  value = azurerm_storage_account.main.primary_blob_endpoint
}

output "queue_service_uri" {
  value = azurerm_storage_account.main.primary_queue_endpoint
}

output "table_service_uri" {
  value = azurerm_storage_account.main.primary_table_endpoint
}

output "registry_name" {
  value = azurerm_container_registry.main.name
}

output "registry_login_server" {
  value = azurerm_container_registry.main.login_server
}

output "function_app_name" {
  value = azapi_resource.functions.name
}

output "function_app_host_name" {
  value = azapi_resource.functions.output.properties.defaultHostName
}
