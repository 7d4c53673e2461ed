# A user is imported by its user ID.
terraform import aws_elasticache_user.app app
