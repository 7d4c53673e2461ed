# Rendered by terraform_aws/security.rs: @ENDPOINT@, @SUFFIX@ are substituted.
# A 1+1 replication group with TLS in transit and an AUTH token, as the most used
# module makes one; the test then rotates the token (auth_token_update_strategy
# ROTATE) through var.token. Beside it, role-based access control as HashiCorp's
# documentation writes it: a user named `default` with a password, an
# application user added to the group by an association, and a TLS group that
# attaches the user group; the test changes the app's password through
# var.app_password. (One configuration: HashiCorp's waiters sleep, so the two
# share their waits.)

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

variable "app_password" {
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

resource "aws_elasticache_user" "default" {
  user_id       = "tf-dflt-@SUFFIX@"
  user_name     = "default"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["the-default-users-password"]
}

resource "aws_elasticache_user" "app" {
  user_id       = "tf-app-@SUFFIX@"
  user_name     = "app-@SUFFIX@"
  access_string = "on ~app:* +@read"
  engine        = "redis"
  passwords     = [var.app_password]
}

resource "aws_elasticache_user_group" "group" {
  engine        = "redis"
  user_group_id = "tf-ug-@SUFFIX@"
  user_ids      = [aws_elasticache_user.default.user_id]

  lifecycle {
    ignore_changes = [user_ids]
  }
}

resource "aws_elasticache_user_group_association" "app" {
  user_group_id = aws_elasticache_user_group.group.user_group_id
  user_id       = aws_elasticache_user.app.user_id
}

resource "aws_elasticache_replication_group" "rbac" {
  replication_group_id       = "tf-rbac-@SUFFIX@"
  description                = "users enforced by the engines"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  transit_encryption_enabled = true
  user_group_ids             = [aws_elasticache_user_group.group.user_group_id]
  apply_immediately          = true

  depends_on = [aws_elasticache_user_group_association.app]
}

output "rbac" {
  value = {
    primary_endpoint_address = aws_elasticache_replication_group.rbac.primary_endpoint_address
    app_user                 = aws_elasticache_user.app.user_name
  }
}
