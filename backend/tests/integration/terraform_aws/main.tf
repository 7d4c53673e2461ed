# Rendered by terraform_aws.rs: @ENDPOINT@ and @SUFFIX@ are substituted.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "env_tag" {
  type    = string
  default = "one"
}

variable "maxmemory_policy" {
  type    = string
  default = "allkeys-lru"
}

variable "memcached_nodes" {
  type    = number
  default = 3
}

variable "apply_immediately" {
  type    = bool
  default = null
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

resource "aws_elasticache_parameter_group" "redis" {
  name   = "tf-redis7-@SUFFIX@"
  family = "redis7"

  parameter {
    name  = "maxmemory-policy"
    value = var.maxmemory_policy
  }

  parameter {
    name  = "timeout"
    value = "300"
  }

  tags = {
    env   = var.env_tag
    owner = "terraform"
  }
}

resource "aws_elasticache_subnet_group" "main" {
  name       = "tf-subnets-@SUFFIX@"
  subnet_ids = ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]

  tags = {
    env = var.env_tag
  }
}

resource "aws_elasticache_cluster" "redis" {
  cluster_id           = "tf-redis-@SUFFIX@"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = "cache.t3.micro"
  num_cache_nodes      = 1
  parameter_group_name = aws_elasticache_parameter_group.redis.name
  subnet_group_name    = aws_elasticache_subnet_group.main.name
  port                 = 6379

  tags = {
    env = var.env_tag
  }
}

resource "aws_elasticache_cluster" "memcached" {
  cluster_id        = "tf-mc-@SUFFIX@"
  engine            = "memcached"
  engine_version    = "1.6.22"
  node_type         = "cache.t3.micro"
  num_cache_nodes   = var.memcached_nodes
  subnet_group_name = aws_elasticache_subnet_group.main.name
  port              = 11211
  apply_immediately = var.apply_immediately

  tags = {
    env = var.env_tag
  }
}

output "redis_address" {
  value = aws_elasticache_cluster.redis.cache_nodes[0].address
}

output "redis_port" {
  value = aws_elasticache_cluster.redis.cache_nodes[0].port
}

output "memcached_configuration_endpoint" {
  value = aws_elasticache_cluster.memcached.configuration_endpoint
}
