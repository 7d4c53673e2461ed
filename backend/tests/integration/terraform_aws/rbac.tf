# Rendered by terraform_aws/rbac.rs: @ENDPOINT@, @SUFFIX@ and @APP_PASSWORD@ are substituted.
# Role-based access control as HashiCorp's documentation writes it: a user
# named `default` with a password, an application user added to the group by
# an association, and a TLS replication group that attaches the group.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
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
  passwords     = ["@APP_PASSWORD@"]
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

output "primary" {
  value = aws_elasticache_replication_group.rbac.primary_endpoint_address
}

output "app_user" {
  value = aws_elasticache_user.app.user_name
}
