output "storage_account_name" {
  value = azurerm_storage_account.main.name
}

output "registry_name" {
  value = azurerm_container_registry.main.name
}

output "registry_login_server" {
  value = azurerm_container_registry.main.login_server
}

output "function_app_name" {
  value = azurerm_function_app_flex_consumption.main.name
}

output "function_app_host_name" {
  value = azurerm_function_app_flex_consumption.main.default_hostname
}
