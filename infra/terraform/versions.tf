# Providers only, no registry modules. azapi covers the three things azurerm cannot deploy as the
# Bicep stack does (see infra/README.md, "Where azurerm falls short").
terraform {
  required_version = ">= 1.6"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.55"
    }
    azapi = {
      source  = "Azure/azapi"
      version = "~> 2.5" # 2.5: ignore_null_property
    }
  }
}

provider "azurerm" {
  features {
    storage {
      # Shared-key access is off, and every storage resource here is created through Resource
      # Manager, so the provider never needs the storage data plane.
      data_plane_available = false
    }
  }
  storage_use_azuread = true
}

provider "azapi" {}
