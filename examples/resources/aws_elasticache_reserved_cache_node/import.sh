# A reservation is imported by its reserved cache node ID.
terraform import aws_elasticache_reserved_cache_node.t3_micro my-reservation
