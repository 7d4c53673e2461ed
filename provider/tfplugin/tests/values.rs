//! Values, codecs, schemas and handshake formatting.

use std::collections::BTreeMap;

use tfplugin::codec::{from_json, from_msgpack, to_json, to_msgpack, JsonOptions};
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::*;

fn round_trip(v: &Value, ty: &Type) -> Value {
    let b = to_msgpack(v, ty).expect("encode");
    from_msgpack(&b, ty).expect("decode")
}

#[test]
fn primitives_and_wire_bytes() {
    assert_eq!(
        to_msgpack(&Value::unknown(), &Type::String).unwrap(),
        [0xd4, 0, 0]
    );
    assert_eq!(to_msgpack(&Value::Null, &Type::Number).unwrap(), [0xc0]);
    assert_eq!(to_msgpack(&Value::from(true), &Type::Bool).unwrap(), [0xc3]);
    assert_eq!(
        to_msgpack(&Value::from(-1i64), &Type::Number).unwrap(),
        [0xff]
    );
    assert_eq!(
        to_msgpack(&Value::from(300i64), &Type::Number).unwrap(),
        [0xcd, 1, 44]
    );
    assert_eq!(
        to_msgpack(&Value::from("hi"), &Type::String).unwrap(),
        [0xa2, b'h', b'i']
    );
    for (v, t) in [
        (Value::from("héllo"), Type::String),
        (Value::from(false), Type::Bool),
        (Value::from(i64::MIN), Type::Number),
        (Value::from(u64::MAX as i64), Type::Number),
    ] {
        assert_eq!(round_trip(&v, &t), v);
    }
}

#[test]
fn big_and_fractional_numbers_are_exact() {
    let n = |s: &str| Value::Number(Number::parse(s).unwrap());
    // 2^70 is exactly a float64; 2^70 + 1 is not and travels as a string.
    let two70 = n("1180591620717411303424");
    let b = to_msgpack(&two70, &Type::Number).unwrap();
    assert_eq!(b[0], 0xcb, "2^70 goes as float64");
    assert_eq!(round_trip(&two70, &Type::Number), two70);
    let two70p1 = n("1180591620717411303425");
    let b = to_msgpack(&two70p1, &Type::Number).unwrap();
    assert_eq!(&b[..2], &[0xb6, b'1'], "2^70+1 goes as a string");
    assert_eq!(round_trip(&two70p1, &Type::Number), two70p1);
    // Far beyond float64.
    let huge = n("1e400");
    assert_eq!(round_trip(&huge, &Type::Number), huge);
    let tiny = n("-1.000000000000000000000000000000000001e-300");
    assert_eq!(round_trip(&tiny, &Type::Number), tiny);
    // 0.1 is not a float64: string; 0.5 is.
    assert_eq!(
        to_msgpack(&n("0.1"), &Type::Number).unwrap(),
        [0xa3, b'0', b'.', b'1']
    );
    assert_eq!(to_msgpack(&n("0.5"), &Type::Number).unwrap()[0], 0xcb);
    // Terraform may send floats and strings; both decode losslessly.
    let mut f = vec![0xcb];
    f.extend(0.1f64.to_be_bytes());
    let v = from_msgpack(&f, &Type::Number).unwrap();
    assert_eq!(
        v.as_number().unwrap().as_str(),
        "0.1000000000000000055511151231257827021181583404541015625"
    );
    let s = from_msgpack(&[0xa4, b'1', b'e', b'2', b'0'], &Type::Number).unwrap();
    assert_eq!(s, n("100000000000000000000"));
}

#[test]
fn distinct_unknown_set_elements_stay_distinct() {
    let ty = Type::set(Type::String);
    let v = Value::set(vec![
        Value::unknown(),
        Value::unknown(),
        "x".into(),
        "x".into(),
    ]);
    assert_eq!(
        v.elements().unwrap().len(),
        3,
        "known duplicates merge, unknowns do not"
    );
    let back = round_trip(&v, &ty);
    let els = back.elements().unwrap();
    assert_eq!(els.len(), 3);
    assert_eq!(els.iter().filter(|e| e.is_unknown()).count(), 2);

    // Exactly what Terraform sends: [unknown, unknown] with refinements.
    let refined = [0xc7, 3, 12, 0x81, 0x01, 0xc2]; // ext 12: {1: false} (not null)
    let mut wire = vec![0x92];
    wire.extend(refined);
    wire.extend(refined);
    let decoded = from_msgpack(&wire, &ty).unwrap();
    let els = decoded.elements().unwrap();
    assert_eq!(els.len(), 2);
    assert!(els.iter().all(Value::is_unknown));
    // Refinements are sent back unchanged.
    assert_eq!(to_msgpack(&decoded, &ty).unwrap(), wire);
}

#[test]
fn null_versus_unknown_at_depth() {
    let ty = Type::object([
        (
            "a",
            Type::list(Type::object([("b", Type::map(Type::String))])),
        ),
        ("t", Type::tuple(vec![Type::String, Type::Number])),
    ]);
    let v = Value::object([
        (
            "a",
            Value::List(vec![
                Value::object([("b", Value::Null)]),
                Value::object([("b", Value::unknown())]),
                Value::object([(
                    "b",
                    Value::Map(BTreeMap::from([
                        ("k".to_string(), Value::Null),
                        ("u".to_string(), Value::unknown()),
                    ])),
                )]),
                Value::Null,
                Value::unknown(),
            ]),
        ),
        ("t", Value::Tuple(vec![Value::Null, Value::unknown()])),
    ]);
    assert_eq!(round_trip(&v, &ty), v);
    assert!(!v.is_wholly_known());
    let p = AttributePath::attr("a")
        .then_index(2)
        .then_attr("b")
        .then_key("u");
    assert!(v.at(&p).unwrap().is_unknown());
    let p = AttributePath::attr("a")
        .then_index(2)
        .then_attr("b")
        .then_key("k");
    assert!(v.at(&p).unwrap().is_null());
    // Missing attributes decode as null.
    let sparse = from_msgpack(&[0x80], &ty).unwrap();
    assert_eq!(sparse.get("a"), Some(&Value::Null));
}

#[test]
fn dynamic_values_carry_their_type() {
    let v = Value::Dynamic(Type::String, Box::new("hi".into()));
    let b = to_msgpack(&v, &Type::Dynamic).unwrap();
    let mut want = vec![0x92, 0xc4, 8];
    want.extend(b"\"string\"");
    want.extend([0xa2, b'h', b'i']);
    assert_eq!(b, want);
    assert_eq!(round_trip(&v, &Type::Dynamic), v);
    let t = Type::object([("n", Type::list(Type::Number))]);
    let obj = Value::Dynamic(
        t,
        Box::new(Value::object([(
            "n",
            Value::List(vec![1i64.into(), Value::unknown()]),
        )])),
    );
    assert_eq!(round_trip(&obj, &Type::Dynamic), obj);
    assert_eq!(
        round_trip(&Value::unknown(), &Type::Dynamic),
        Value::unknown()
    );
    assert_eq!(round_trip(&Value::Null, &Type::Dynamic), Value::Null);
    // JSON form: {"value": ..., "type": ...}
    let j = to_json(&v, &Type::Dynamic).unwrap();
    assert_eq!(
        String::from_utf8(j.clone()).unwrap(),
        r#"{"value":"hi","type":"string"}"#
    );
    assert_eq!(
        from_json(&j, &Type::Dynamic, JsonOptions::default()).unwrap(),
        v
    );
}

#[test]
fn type_json() {
    for s in [
        r#""string""#,
        r#"["list","number"]"#,
        r#"["set",["map","bool"]]"#,
        r#"["object",{"a":"string","b":["list","dynamic"]}]"#,
        r#"["object",{"a":"string","b":"number"},["b"]]"#,
        r#"["tuple",["string","number"]]"#,
    ] {
        let t = Type::from_json_bytes(s.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(t.to_json_bytes()).unwrap(), s);
    }
    assert!(Type::from_json_bytes(br#"["list"]"#).is_err());
    assert!(Type::from_json_bytes(br#""float""#).is_err());
}

fn all_nesting_schema() -> Schema {
    let inner = || {
        Block::new()
            .attribute(Attribute::new("port", Type::Number).required())
            .attribute(Attribute::new("note", Type::String).optional().computed())
    };
    Schema::new(
        Block::new()
            .attribute(Attribute::new("id", Type::String).computed())
            .attribute(Attribute::new("name", Type::String).required().force_new())
            .attribute(
                Attribute::new("secret", Type::String)
                    .optional()
                    .sensitive(),
            )
            .attribute(Attribute::new("old", Type::String).optional().deprecated())
            .attribute(
                Attribute::nested(
                    "endpoints",
                    Nesting::List,
                    vec![Attribute::new("address", Type::String).computed()],
                )
                .computed(),
            )
            .block("single", Nesting::Single, inner())
            .block("group", Nesting::Group, inner())
            .nested(
                NestedBlock::new("list", Nesting::List, inner())
                    .min_items(1)
                    .max_items(3),
            )
            .block("set", Nesting::Set, inner())
            .block("map", Nesting::Map, inner())
            .description("all nesting modes"),
    )
    .version(3)
}

#[test]
fn nested_blocks_of_every_mode() {
    let s = all_nesting_schema();
    let ty = s.value_type();
    let Type::Object { attrs, .. } = &ty else {
        panic!("object")
    };
    let obj = Type::object([("note", Type::String), ("port", Type::Number)]);
    assert_eq!(attrs["single"], obj);
    assert_eq!(attrs["group"], obj);
    assert_eq!(attrs["list"], Type::list(obj.clone()));
    assert_eq!(attrs["set"], Type::set(obj.clone()));
    assert_eq!(attrs["map"], Type::map(obj.clone()));
    assert_eq!(
        attrs["endpoints"],
        Type::list(Type::object([("address", Type::String)]))
    );

    let el = |p: i64, note: Value| Value::object([("port", p.into()), ("note", note)]);
    let v = Value::object([
        ("id", Value::unknown()),
        ("name", "n".into()),
        ("secret", Value::Null),
        ("old", Value::Null),
        ("endpoints", Value::unknown()),
        ("single", el(1, Value::Null)),
        ("group", el(2, Value::unknown())),
        (
            "list",
            Value::List(vec![el(3, "a".into()), el(4, Value::unknown())]),
        ),
        (
            "set",
            Value::set(vec![el(5, Value::unknown()), el(5, Value::unknown())]),
        ),
        (
            "map",
            Value::Map(BTreeMap::from([("k".to_string(), el(6, "b".into()))])),
        ),
    ]);
    let back = round_trip(&v, &ty);
    assert_eq!(back, v);
    assert_eq!(back.get("set").unwrap().elements().unwrap().len(), 2);
}

#[test]
fn schema_to_proto() {
    let p = all_nesting_schema().to_proto();
    assert_eq!(p.version, 3);
    let b = p.block.unwrap();
    assert_eq!(b.version, 3);
    assert_eq!(b.description, "all nesting modes");
    let attr = |n: &str| b.attributes.iter().find(|a| a.name == n).unwrap().clone();
    assert!(attr("id").computed && !attr("id").optional && !attr("id").required);
    assert!(attr("name").required);
    assert!(attr("secret").sensitive && attr("secret").optional);
    assert!(attr("old").deprecated);
    assert_eq!(attr("name").r#type, br#""string""#);
    let ep = attr("endpoints");
    assert!(ep.r#type.is_empty());
    let nt = ep.nested_type.unwrap();
    assert_eq!(nt.nesting, pb::schema::object::NestingMode::List as i32);
    use pb::schema::nested_block::NestingMode as M;
    let modes: BTreeMap<String, (i32, i64, i64)> = b
        .block_types
        .iter()
        .map(|nb| {
            (
                nb.type_name.clone(),
                (nb.nesting, nb.min_items, nb.max_items),
            )
        })
        .collect();
    assert_eq!(modes["single"].0, M::Single as i32);
    assert_eq!(modes["group"].0, M::Group as i32);
    assert_eq!(modes["list"], (M::List as i32, 1, 3));
    assert_eq!(modes["set"].0, M::Set as i32);
    assert_eq!(modes["map"].0, M::Map as i32);
}

#[test]
fn json_state_decode() {
    let ty = all_nesting_schema().value_type();
    let state = br#"{
        "id": "c-1", "name": "n", "secret": null, "removed_attr": 5,
        "endpoints": [{"address": "10.0.0.1"}],
        "single": {"port": 123456789012345678901234567890, "note": null},
        "group": {"port": 1.5e2, "note": "x"},
        "list": [], "set": [{"port": 1, "note": "a"}, {"port": 1, "note": "a"}],
        "map": {"a": {"port": 0.1, "note": "\u00e9\n"}}
    }"#;
    // Strict decoding refuses attributes the schema does not have...
    assert!(from_json(state, &ty, JsonOptions::default()).is_err());
    // ...state upgrades skip them.
    let raw = RawState {
        json: Some(state.to_vec()),
        flatmap: Default::default(),
    };
    let v = raw.decode(&ty).unwrap();
    assert_eq!(v.get("id"), Some(&Value::from("c-1")));
    assert_eq!(
        v.get("old"),
        Some(&Value::Null),
        "absent attributes are null"
    );
    let port = |blk: &str| {
        v.get(blk)
            .unwrap()
            .get("port")
            .unwrap()
            .as_number()
            .unwrap()
            .to_string()
    };
    assert_eq!(port("single"), "123456789012345678901234567890");
    assert_eq!(port("group"), "150");
    assert_eq!(v.get("set").unwrap().elements().unwrap().len(), 1);
    let m = v.get("map").unwrap().as_map().unwrap();
    assert_eq!(m["a"].get("note"), Some(&Value::from("é\n")));
    assert_eq!(
        m["a"].get("port").unwrap().as_number().unwrap().as_str(),
        "0.1"
    );
    // JSON encode and decode again gives the same value.
    let again = from_json(&to_json(&v, &ty).unwrap(), &ty, JsonOptions::default()).unwrap();
    assert_eq!(again, v);
}

#[test]
fn handshake_and_reattach_formats() {
    let addr: std::net::SocketAddr = "127.0.0.1:41234".parse().unwrap();
    assert_eq!(
        plugin::handshake_line(addr, None),
        "1|6|tcp|127.0.0.1:41234|grpc|"
    );
    // RawStdEncoding: standard alphabet, no padding.
    let line = plugin::handshake_line(addr, Some(&[0xfb, 0xff]));
    assert_eq!(line, "1|6|tcp|127.0.0.1:41234|grpc|+/8");
    let j: serde_json::Value =
        serde_json::from_str(&plugin::reattach_json("example.com/test/demo", addr, 42)).unwrap();
    let c = &j["example.com/test/demo"];
    assert_eq!(c["Protocol"], "grpc");
    assert_eq!(c["ProtocolVersion"], 6);
    assert_eq!(c["Pid"], 42);
    assert_eq!(c["Test"], true);
    assert_eq!(c["Addr"]["Network"], "tcp");
    assert_eq!(c["Addr"]["String"], "127.0.0.1:41234");
}

#[test]
fn attribute_paths_to_proto() {
    let p = AttributePath::attr("rule").then_index(2).then_key("k");
    assert_eq!(p.to_string(), "rule[2][\"k\"]");
    let pp = p.to_proto();
    assert_eq!(pp.steps.len(), 3);
    assert_eq!(AttributePath::from_proto(&pp), p);
    let d = Diagnostic::error("bad", "worse").at(p).to_proto();
    assert_eq!(d.severity, pb::diagnostic::Severity::Error as i32);
    assert_eq!(d.attribute.unwrap().steps.len(), 3);
}

#[test]
fn default_plan_marks_computed_unknown_on_create() {
    let s = all_nesting_schema();
    let el = |p: i64| Value::object([("port", p.into()), ("note", Value::Null)]);
    let config = Value::object([
        ("name", "n".into()),
        ("single", el(1)),
        ("set", Value::set(vec![el(2)])),
    ]);
    let out = default_plan(
        &s,
        PlanRequest {
            prior_state: Value::Null,
            proposed_new_state: config.clone(),
            config,
            prior_private: Vec::new(),
            provider_meta: Value::Null,
        },
    );
    let p = out.planned_state;
    assert!(p.get("id").unwrap().is_unknown());
    assert!(p.get("endpoints").unwrap().is_unknown());
    assert!(p.get("secret").is_none(), "not computed: untouched");
    assert!(p.get("single").unwrap().get("note").unwrap().is_unknown());
    let set = p.get("set").unwrap().elements().unwrap();
    assert!(set[0].get("note").unwrap().is_unknown());
}

#[test]
fn set_equality_ignores_order_and_unknowns_never_match() {
    let a = Value::Set(vec!["x".into(), "y".into()]);
    let b = Value::Set(vec!["y".into(), "x".into()]);
    assert!(a.same_as(&b));
    assert!(!a.same_as(&Value::Set(vec!["x".into()])));
    assert!(!Value::unknown().same_as(&Value::unknown()));
    assert!(Value::Null.same_as(&Value::Null));
    let o1 = Value::object([("s", a)]);
    let o2 = Value::object([("s", b)]);
    assert!(o1.same_as(&o2));
}
