# A serverless cache is imported by its name.
terraform import aws_elasticache_serverless_cache.example example
