# An association is imported by the user group ID and the user ID, comma-separated.
terraform import aws_elasticache_user_group_association.reader app,reader
