//! elasticache-local: the Amazon ElastiCache Query API on real engines.

pub mod catalog;
