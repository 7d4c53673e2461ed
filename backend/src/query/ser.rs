//! Query-protocol encoding: an operation's typed output →
//! `<{Op}Response xmlns=…><{Op}Result>…</{Op}Result><ResponseMetadata>…`.
//!
//! The generated `ToXml` impls (`query/generated.rs`) write members in model
//! order under their model names; absent (`None`) members are left out.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::shapes::MODEL;
use super::Operation;

/// A value written as XML content (text, or a structure's member elements).
pub trait ToXml {
    fn write_xml(&self, w: &mut String);
}

/// Encode a successful answer.
#[must_use]
pub fn encode<O: Operation>(output: &O::Output, request_id: &str) -> String {
    let name = O::NAME;
    let mut out = String::with_capacity(512);
    let _ = write!(out, "<{name}Response xmlns=\"{}\">", MODEL.namespace);
    if let Some(wrapper) = O::RESULT {
        let _ = write!(out, "<{wrapper}>");
        output.write_xml(&mut out);
        let _ = write!(out, "</{wrapper}>");
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>"
    );
    out
}

/// `<name>value</name>`, when there is a value.
pub fn field<T: ToXml + ?Sized>(w: &mut String, name: &str, value: Option<&T>) {
    if let Some(v) = value {
        open(w, name);
        v.write_xml(w);
        close(w, name);
    }
}

/// `<name><item>…</item>…</name>`, when there is a list (even an empty one).
pub fn list<T: ToXml>(w: &mut String, name: &str, item: &str, value: Option<&Vec<T>>) {
    if let Some(items) = value {
        open(w, name);
        for v in items {
            open(w, item);
            v.write_xml(w);
            close(w, item);
        }
        close(w, name);
    }
}

fn open(w: &mut String, name: &str) {
    w.push('<');
    w.push_str(name);
    w.push('>');
}

fn close(w: &mut String, name: &str) {
    w.push_str("</");
    w.push_str(name);
    w.push('>');
}

impl ToXml for () {
    fn write_xml(&self, _w: &mut String) {}
}

impl ToXml for str {
    fn write_xml(&self, w: &mut String) {
        escape_into(self, w);
    }
}

impl ToXml for String {
    fn write_xml(&self, w: &mut String) {
        escape_into(self, w);
    }
}

impl ToXml for i64 {
    fn write_xml(&self, w: &mut String) {
        let _ = write!(w, "{self}");
    }
}

impl ToXml for bool {
    fn write_xml(&self, w: &mut String) {
        w.push_str(if *self { "true" } else { "false" });
    }
}

impl ToXml for f64 {
    fn write_xml(&self, w: &mut String) {
        // As JSON numbers print: `1.0`, `0.5`, `1e20`.
        let _ = write!(w, "{self:?}");
    }
}

impl ToXml for DateTime<Utc> {
    /// ISO 8601, UTC, milliseconds (`2026-01-02T03:04:05.000Z`).
    fn write_xml(&self, w: &mut String) {
        w.push_str(&self.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
}

/// XML text escaping. A carriage return is written as a character reference
/// (a parser would read a raw one as a line feed); a character XML 1.0 does not
/// allow (control characters but tab, line feed and carriage return; U+FFFE,
/// U+FFFF) as U+FFFD, so that every answer stays well-formed: a value or error
/// message echoing `%00` made answers no XML parser reads (drill 3).
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto;
    use crate::query::generated::op;

    /// Drill 3: every answer is well-formed XML, whatever a request sent.
    #[test]
    fn characters_xml_does_not_allow_never_reach_an_answer() {
        let mut out = String::from("<M>");
        escape_into("a\u{0}b\u{1}c\rd\te\nf\u{fffe}<&", &mut out);
        out.push_str("</M>");
        assert_eq!(
            out,
            "<M>a\u{fffd}b\u{fffd}c&#xD;d\te\nf\u{fffd}&lt;&amp;</M>"
        );
        let doc = roxmltree::Document::parse(&out).unwrap();
        assert_eq!(
            doc.root_element().text(),
            Some("a\u{fffd}b\u{fffd}c\rd\te\nf\u{fffd}<&")
        );
    }

    #[test]
    fn cluster_with_nodes_in_model_order() {
        let created = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let v = dto::CreateCacheClusterOutput {
            cache_cluster: Some(dto::CacheCluster {
                cache_nodes: Some(vec![dto::CacheNode {
                    cache_node_id: Some("0001".into()),
                    endpoint: Some(dto::Endpoint {
                        port: Some(6379),
                        address: Some("127.0.0.1".into()),
                    }),
                    ..Default::default()
                }]),
                cache_cluster_id: Some("c1".into()),
                cache_cluster_create_time: Some(created),
                auth_token_enabled: Some(false),
                ..Default::default()
            }),
        };
        let xml = encode::<op::CreateCacheCluster>(&v, "rid");
        assert_eq!(
            xml,
            "<CreateCacheClusterResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
<CreateCacheClusterResult><CacheCluster><CacheClusterId>c1</CacheClusterId>\
<CacheClusterCreateTime>2026-01-02T03:04:05.000Z</CacheClusterCreateTime>\
<CacheNodes><CacheNode><CacheNodeId>0001</CacheNodeId><Endpoint><Address>127.0.0.1</Address><Port>6379</Port></Endpoint></CacheNode></CacheNodes>\
<AuthTokenEnabled>false</AuthTokenEnabled></CacheCluster></CreateCacheClusterResult>\
<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></CreateCacheClusterResponse>"
        );
    }

    #[test]
    fn text_is_escaped_and_empty_lists_are_written() {
        let v = dto::ListTagsForResourceOutput {
            tag_list: Some(vec![dto::Tag {
                key: Some("a<b".into()),
                value: Some("x&y".into()),
            }]),
        };
        let xml = encode::<op::ListTagsForResource>(&v, "r");
        assert!(xml.contains("<Tag><Key>a&lt;b</Key><Value>x&amp;y</Value></Tag>"));
        let v = dto::ListTagsForResourceOutput {
            tag_list: Some(vec![]),
        };
        let xml = encode::<op::ListTagsForResource>(&v, "r");
        assert!(xml.contains("<TagList></TagList>"), "{xml}");
    }

    #[test]
    fn operation_without_output() {
        let xml = encode::<op::DeleteCacheSubnetGroup>(&(), "r");
        assert!(xml.starts_with("<DeleteCacheSubnetGroupResponse"));
        assert!(!xml.contains("Result>"));
    }
}
