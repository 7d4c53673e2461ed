# Rendered by terraform_aws/security.rs: @ENDPOINT@, @SUFFIX@ are substituted.
# A 1+1 replication group with TLS in transit and an AUTH token, as the most used
# module makes one; the test then rotates the token (auth_token_update_strategy
# ROTATE) through var.token.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "token" {
  type      = string
  sensitive = true
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    elasticache = "@ENDPOINT@"
  }
}

resource "aws_elasticache_replication_group" "secure" {
  replication_group_id       = "tf-tls-@SUFFIX@"
  description                = "TLS and an AUTH token"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  port                       = 6379
  apply_immediately          = true
  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = var.token
  auth_token_update_strategy = "ROTATE"
}

output "secure" {
  value = {
    primary_endpoint_address   = aws_elasticache_replication_group.secure.primary_endpoint_address
    reader_endpoint_address    = aws_elasticache_replication_group.secure.reader_endpoint_address
    port                       = aws_elasticache_replication_group.secure.port
    transit_encryption_enabled = aws_elasticache_replication_group.secure.transit_encryption_enabled
    transit_encryption_mode    = aws_elasticache_replication_group.secure.transit_encryption_mode
    at_rest_encryption_enabled = aws_elasticache_replication_group.secure.at_rest_encryption_enabled
  }
}
