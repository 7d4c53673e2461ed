data "aws_elasticache_subnet_group" "example" {
  name = "tf-test-cache-subnet"
}
