# Quickstart: a parameter group, a subnet group, a Redis cluster and a
# three-node Memcached cluster on elasticache-local, with HashiCorp's HCL.
#
#   elasticache-local --runtime process --data-dir ./data --listen 127.0.0.1:4566 &
#   terraform init && terraform apply
#   terraform test        # quickstart.tftest.hcl
#
# Our provider keeps the local name `aws`; only `source` differs from
# hashicorp/aws (a CLI configuration with dev_overrides or a filesystem
# mirror supplies the binary `terraform-provider-aws` we build).

terraform {
  required_providers {
    aws = {
      source = "elasticache-local/aws"
    }
  }
}

variable "endpoint" {
  description = "The ElastiCache endpoint: elasticache-local, or leave null for AWS."
  type        = string
  default     = "http://127.0.0.1:4566"
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true

  endpoints {
    elasticache = var.endpoint
  }

  default_tags {
    tags = {
      Project = "quickstart"
    }
  }
}

resource "aws_elasticache_parameter_group" "redis" {
  name   = "quickstart-redis7"
  family = "redis7"

  parameter {
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }
}

resource "aws_elasticache_subnet_group" "main" {
  name       = "quickstart"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
}

resource "aws_elasticache_cluster" "redis" {
  cluster_id           = "quickstart-redis"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.t3.micro"
  num_cache_nodes      = 1
  parameter_group_name = aws_elasticache_parameter_group.redis.name
  subnet_group_name    = aws_elasticache_subnet_group.main.name
  apply_immediately    = true

  tags = {
    Name = "quickstart-redis"
  }
}

resource "aws_elasticache_cluster" "memcached" {
  cluster_id        = "quickstart-memcached"
  engine            = "memcached"
  node_type         = "cache.t3.micro"
  num_cache_nodes   = 3
  subnet_group_name = aws_elasticache_subnet_group.main.name
  apply_immediately = true
}

output "redis_endpoint" {
  description = "host:port of the Redis node"
  value       = "${aws_elasticache_cluster.redis.cache_nodes[0].address}:${aws_elasticache_cluster.redis.cache_nodes[0].port}"
}

output "memcached_configuration_endpoint" {
  description = "Memcached Auto Discovery endpoint (config get cluster)"
  value       = aws_elasticache_cluster.memcached.configuration_endpoint
}

output "memcached_nodes" {
  value = [for n in aws_elasticache_cluster.memcached.cache_nodes : "${n.address}:${n.port}"]
}
