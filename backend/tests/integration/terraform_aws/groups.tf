# Rendered by terraform_aws/groups.rs: @ENDPOINT@ and @SUFFIX@ are substituted.
# Three replication groups as HashiCorp's acceptance tests make them: a 1+2 group
# with automatic failover and Multi-AZ, a cluster-mode group of 2 shards with a
# replica each, and a group whose member count the test changes.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "scaled_members" {
  type    = number
  default = 2
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

resource "aws_elasticache_replication_group" "replicas" {
  replication_group_id       = "tf-rg-@SUFFIX@"
  description                = "one primary, two replicas"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  num_cache_clusters         = 3
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  apply_immediately          = true

  tags = {
    owner = "terraform"
  }
}

resource "aws_elasticache_replication_group" "sharded" {
  replication_group_id       = "tf-cm-@SUFFIX@"
  description                = "two shards, one replica each"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = "cache.t3.micro"
  parameter_group_name       = "default.redis7.cluster.on"
  num_node_groups            = 2
  replicas_per_node_group    = 1
  automatic_failover_enabled = true
  port                       = 6379
  apply_immediately          = true
}

resource "aws_elasticache_replication_group" "scaled" {
  replication_group_id = "tf-sc-@SUFFIX@"
  description          = "scaled out and back in"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.t3.micro"
  num_cache_clusters   = var.scaled_members
  port                 = 6379
  apply_immediately    = true
}

data "aws_elasticache_replication_group" "replicas" {
  replication_group_id = aws_elasticache_replication_group.replicas.replication_group_id
}

data "aws_elasticache_replication_group" "sharded" {
  replication_group_id = aws_elasticache_replication_group.sharded.replication_group_id
}

output "groups" {
  value = {
    for k, g in {
      replicas = aws_elasticache_replication_group.replicas
      sharded  = aws_elasticache_replication_group.sharded
      scaled   = aws_elasticache_replication_group.scaled
    } : k => {
      port                           = g.port
      primary_endpoint_address       = g.primary_endpoint_address
      reader_endpoint_address        = g.reader_endpoint_address
      configuration_endpoint_address = g.configuration_endpoint_address
      member_clusters                = length(g.member_clusters)
    }
  }
}

output "data_sources" {
  value = {
    for k, g in {
      replicas = data.aws_elasticache_replication_group.replicas
      sharded  = data.aws_elasticache_replication_group.sharded
    } : k => {
      port                           = g.port
      primary_endpoint_address       = g.primary_endpoint_address
      reader_endpoint_address        = g.reader_endpoint_address
      configuration_endpoint_address = g.configuration_endpoint_address
    }
  }
}
