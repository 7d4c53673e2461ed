# A global replication group is imported by its ID (or id@region).
terraform import aws_elasticache_global_replication_group.example ldgnf-example
