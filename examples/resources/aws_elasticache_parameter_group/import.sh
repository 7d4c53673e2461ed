# A parameter group is imported by its name.
terraform import aws_elasticache_parameter_group.default cache-params
