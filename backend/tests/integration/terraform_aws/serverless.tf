# Rendered by terraform_aws/serverless.rs: @ENDPOINT@, @SUFFIX@ are substituted.
# A serverless cache per engine as HashiCorp's documentation writes them: Redis
# with usage limits, a daily snapshot time and a user group (a `default` user
# and an application user); Valkey; Memcached with a data storage limit.

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
  user_id              = "sdef-@SUFFIX@"
  user_name            = "default"
  access_string        = "off ~* +@all"
  engine               = "redis"
  no_password_required = true
}

resource "aws_elasticache_user" "app" {
  user_id       = "sapp-@SUFFIX@"
  user_name     = "app"
  access_string = "on ~* +@all"
  engine        = "redis"
  passwords     = ["serverless-app-password"]
}

resource "aws_elasticache_user_group" "users" {
  user_group_id = "sug-@SUFFIX@"
  engine        = "redis"
  user_ids      = [aws_elasticache_user.default.user_id, aws_elasticache_user.app.user_id]
}

resource "aws_elasticache_serverless_cache" "redis" {
  engine                   = "redis"
  name                     = "tf-sr-@SUFFIX@"
  description              = "redis serverless"
  major_engine_version     = "7"
  daily_snapshot_time      = "09:00"
  snapshot_retention_limit = 1
  user_group_id            = aws_elasticache_user_group.users.user_group_id

  cache_usage_limits {
    data_storage {
      maximum = 10
      unit    = "GB"
    }
    ecpu_per_second {
      maximum = 5000
    }
  }

  tags = {
    team = "cache"
  }
}

resource "aws_elasticache_serverless_cache" "valkey" {
  engine = "valkey"
  name   = "tf-sv-@SUFFIX@"
}

resource "aws_elasticache_serverless_cache" "memcached" {
  engine = "memcached"
  name   = "tf-sm-@SUFFIX@"

  cache_usage_limits {
    data_storage {
      maximum = 1
      unit    = "GB"
    }
  }
}

output "caches" {
  value = {
    redis     = aws_elasticache_serverless_cache.redis
    valkey    = aws_elasticache_serverless_cache.valkey
    memcached = aws_elasticache_serverless_cache.memcached
  }
}
