# A user group is imported by its ID.
terraform import aws_elasticache_user_group.app app
