# Rendered by terraform_aws/global.rs: @ENDPOINT@, @SUFFIX@, @PRIMARY@ and
# @GLOBAL_SETTINGS@ are substituted.
# A global datastore as HashiCorp's documentation writes one: a primary group in
# us-east-1, the datastore, a secondary group in us-west-2 through an aliased
# provider on the same endpoint.

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

provider "aws" {
  alias                       = "west"
  region                      = "us-west-2"
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

resource "aws_elasticache_replication_group" "primary" {
  replication_group_id = "tf-gp-@SUFFIX@"
  description          = "primary region"
  engine               = "redis"
  engine_version       = "6.2"
  node_type            = "cache.m5.large"
  num_cache_clusters   = 2
  port                 = 6379

  lifecycle {
    ignore_changes = [engine_version]
  }
}

resource "aws_elasticache_global_replication_group" "this" {
  global_replication_group_id_suffix = "tf-@SUFFIX@"
  primary_replication_group_id       = @PRIMARY@
  @GLOBAL_SETTINGS@
}

resource "aws_elasticache_replication_group" "secondary" {
  provider = aws.west

  replication_group_id        = "tf-gs-@SUFFIX@"
  description                 = "secondary region"
  global_replication_group_id = aws_elasticache_global_replication_group.this.global_replication_group_id
  num_cache_clusters          = 2
}

output "global" {
  value = aws_elasticache_global_replication_group.this
}

output "primary" {
  value = {
    primary_endpoint_address = aws_elasticache_replication_group.primary.primary_endpoint_address
    reader_endpoint_address  = aws_elasticache_replication_group.primary.reader_endpoint_address
    port                     = aws_elasticache_replication_group.primary.port
  }
}

output "secondary" {
  value = {
    primary_endpoint_address    = aws_elasticache_replication_group.secondary.primary_endpoint_address
    reader_endpoint_address     = aws_elasticache_replication_group.secondary.reader_endpoint_address
    port                        = aws_elasticache_replication_group.secondary.port
    node_type                   = aws_elasticache_replication_group.secondary.node_type
    global_replication_group_id = aws_elasticache_replication_group.secondary.global_replication_group_id
    parameter_group_name        = aws_elasticache_replication_group.secondary.parameter_group_name
    engine_version_actual       = aws_elasticache_replication_group.secondary.engine_version_actual
  }
}
