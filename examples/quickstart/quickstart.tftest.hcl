# `terraform test` for the quickstart (against a running elasticache-local;
# pass -var endpoint=http://HOST:PORT when it does not listen on 4566).

run "plan" {
  command = plan

  assert {
    condition     = aws_elasticache_cluster.memcached.num_cache_nodes == 3
    error_message = "the Memcached cluster has three nodes"
  }

  assert {
    condition     = aws_elasticache_cluster.redis.engine_version == "7.1"
    error_message = "the Redis cluster asks for 7.1"
  }
}

run "apply" {
  assert {
    condition     = length(aws_elasticache_cluster.memcached.cache_nodes) == 3
    error_message = "three Memcached nodes are up"
  }

  assert {
    condition     = aws_elasticache_cluster.redis.parameter_group_name == "quickstart-redis7"
    error_message = "the Redis cluster uses the quickstart parameter group"
  }

  assert {
    condition     = aws_elasticache_cluster.redis.tags_all["Project"] == "quickstart"
    error_message = "default_tags reach tags_all"
  }

  assert {
    condition     = startswith(aws_elasticache_cluster.redis.engine_version_actual, "7.1")
    error_message = "Redis runs 7.1"
  }

  assert {
    condition     = output.memcached_configuration_endpoint != null
    error_message = "Memcached has a configuration endpoint"
  }
}
