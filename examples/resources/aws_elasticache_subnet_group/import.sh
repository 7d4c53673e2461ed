# A subnet group is imported by its name.
terraform import aws_elasticache_subnet_group.bar tf-test-cache-subnet
