//! Value codecs: msgpack (both ways, the cty wire format of
//! `DynamicValue.msgpack`) and JSON (both ways, the cty JSON format used
//! for stored state and `DynamicValue.json`).

use std::collections::BTreeMap;

use crate::number::Number;
use crate::path::{AttributePath, PathStep};
use crate::types::Type;
use crate::value::Value;

/// Decoding or encoding failure, with the path where it happened.
#[derive(Debug, thiserror::Error)]
#[error("{}{msg}", if path.0.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct CodecError {
    pub path: AttributePath,
    pub msg: String,
}

fn cerr<T>(path: &[PathStep], msg: impl Into<String>) -> Result<T, CodecError> {
    Err(CodecError {
        path: AttributePath(path.to_vec()),
        msg: msg.into(),
    })
}

/// msgpack extension type cty uses for plain unknown values.
const UNKNOWN_EXT: i8 = 0;
/// msgpack extension type cty uses for unknown values with refinements
/// (payload: a msgpack map of refinement facts).
const REFINED_UNKNOWN_EXT: i8 = 12;

// ---------------------------------------------------------------- msgpack out

/// Encode a value of type `ty` as cty msgpack.
pub fn to_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    enc(&mut out, v, ty, &mut path)?;
    Ok(out)
}

fn w_uint(out: &mut Vec<u8>, n: u64) {
    if n < 128 {
        out.push(n as u8);
    } else if n <= u8::MAX as u64 {
        out.extend([0xcc, n as u8]);
    } else if n <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend((n as u16).to_be_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(0xce);
        out.extend((n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend(n.to_be_bytes());
    }
}

fn w_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        return w_uint(out, n as u64);
    }
    if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= i8::MIN as i64 {
        out.extend([0xd0, n as i8 as u8]);
    } else if n >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend((n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend((n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend(n.to_be_bytes());
    }
}

fn w_str(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= u8::MAX as usize {
        out.extend([0xd9, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xda);
        out.extend((n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend((n as u32).to_be_bytes());
    }
    out.extend(s.as_bytes());
}

fn w_bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= u8::MAX as usize {
        out.extend([0xc4, n as u8]);
    } else if n <= u16::MAX as usize {
        out.push(0xc5);
        out.extend((n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend((n as u32).to_be_bytes());
    }
    out.extend(b);
}

fn w_array_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xdc);
        out.extend((n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend((n as u32).to_be_bytes());
    }
}

fn w_map_len(out: &mut Vec<u8>, n: usize) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xde);
        out.extend((n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend((n as u32).to_be_bytes());
    }
}

fn w_ext(out: &mut Vec<u8>, ty: i8, data: &[u8]) {
    let t = ty as u8;
    match data.len() {
        1 => out.extend([0xd4, t]),
        2 => out.extend([0xd5, t]),
        4 => out.extend([0xd6, t]),
        8 => out.extend([0xd7, t]),
        16 => out.extend([0xd8, t]),
        n if n <= u8::MAX as usize => out.extend([0xc7, n as u8, t]),
        n if n <= u16::MAX as usize => {
            out.push(0xc8);
            out.extend((n as u16).to_be_bytes());
            out.push(t);
        }
        n => {
            out.push(0xc9);
            out.extend((n as u32).to_be_bytes());
            out.push(t);
        }
    }
    out.extend(data);
}

fn w_number(out: &mut Vec<u8>, n: &Number) {
    // Same choice as cty: integer if it fits int64, float64 if exact,
    // otherwise the decimal text as a string.
    if let Some(i) = n.as_i64() {
        w_int(out, i);
    } else if let Some(f) = n.as_exact_f64() {
        out.push(0xcb);
        out.extend(f.to_be_bytes());
    } else {
        w_str(out, n.as_str());
    }
}

/// Best-effort type of a value in a `DynamicPseudoType` slot that was
/// built without [`Value::Dynamic`].
fn infer_type(v: &Value) -> Option<Type> {
    Some(match v {
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::Dynamic(t, _) => t.clone(),
        Value::Object(m) => Type::object(
            m.iter()
                .map(|(k, v)| Some((k.clone(), infer_type(v)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Tuple(vs) => Type::Tuple(vs.iter().map(infer_type).collect::<Option<_>>()?),
        _ => return None,
    })
}

fn enc(
    out: &mut Vec<u8>,
    v: &Value,
    ty: &Type,
    path: &mut Vec<PathStep>,
) -> Result<(), CodecError> {
    match v {
        Value::Null => {
            out.push(0xc0);
            return Ok(());
        }
        Value::Unknown(refn) => {
            if refn.is_empty() || *ty == Type::Dynamic {
                w_ext(out, UNKNOWN_EXT, &[0]);
            } else {
                w_ext(out, REFINED_UNKNOWN_EXT, refn);
            }
            return Ok(());
        }
        _ => {}
    }
    match (ty, v) {
        (Type::Dynamic, Value::Dynamic(t, inner)) => {
            w_array_len(out, 2);
            w_bin(out, &t.to_json_bytes());
            enc(out, inner, t, path)
        }
        (Type::Dynamic, other) => match infer_type(other) {
            Some(t) => {
                w_array_len(out, 2);
                w_bin(out, &t.to_json_bytes());
                enc(out, other, &t, path)
            }
            None => cerr(
                path,
                "value in a dynamic slot needs an explicit type (Value::Dynamic)",
            ),
        },
        (t, Value::Dynamic(dt, inner)) if t == dt => enc(out, inner, t, path),
        (Type::Bool, Value::Bool(b)) => {
            out.push(if *b { 0xc3 } else { 0xc2 });
            Ok(())
        }
        (Type::Number, Value::Number(n)) => {
            w_number(out, n);
            Ok(())
        }
        (Type::String, Value::String(s)) => {
            w_str(out, s);
            Ok(())
        }
        (Type::List(et), Value::List(vs)) | (Type::Set(et), Value::Set(vs)) => {
            w_array_len(out, vs.len());
            for (i, e) in vs.iter().enumerate() {
                path.push(PathStep::Index(i as i64));
                enc(out, e, et, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Map(et), Value::Map(m)) => {
            w_map_len(out, m.len());
            for (k, e) in m {
                w_str(out, k);
                path.push(PathStep::Key(k.clone()));
                enc(out, e, et, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Object { attrs, .. }, Value::Object(m)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return cerr(path, format!("unsupported attribute {extra:?}"));
            }
            w_map_len(out, attrs.len());
            for (k, at) in attrs {
                w_str(out, k);
                path.push(PathStep::Attribute(k.clone()));
                enc(out, m.get(k).unwrap_or(&Value::Null), at, path)?;
                path.pop();
            }
            Ok(())
        }
        (Type::Tuple(ts), Value::Tuple(vs)) => {
            if ts.len() != vs.len() {
                return cerr(
                    path,
                    format!("tuple needs {} elements, has {}", ts.len(), vs.len()),
                );
            }
            w_array_len(out, vs.len());
            for (i, (e, t)) in vs.iter().zip(ts).enumerate() {
                path.push(PathStep::Index(i as i64));
                enc(out, e, t, path)?;
                path.pop();
            }
            Ok(())
        }
        (t, v) => cerr(path, format!("value {} does not fit type {t}", kind(v))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown(_) => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
        Value::Dynamic(..) => "dynamic",
    }
}

// ----------------------------------------------------------------- msgpack in

/// Decode cty msgpack as a value of type `ty`.
pub fn from_msgpack(b: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut r = Reader {
        b,
        pos: 0,
        depth: 0,
    };
    let mut path = Vec::new();
    let v = r.value(ty, &mut path)?;
    if r.pos != b.len() {
        return cerr(&path, "trailing bytes after msgpack value");
    }
    Ok(v)
}

/// A raw msgpack item header.
enum Item<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    Ext(i8, &'a [u8]),
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    /// Values being read, outermost first: each is a level of recursion.
    depth: usize,
}

/// How deep values may nest in msgpack: deeper than
/// any schema, shallow enough for any thread's stack. Without it a dynamic
/// value whose type is `dynamic` again, repeated, overflowed the stack.
const MAX_DEPTH: usize = 128;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, path: &[PathStep]) -> Result<&'a [u8], CodecError> {
        if self.pos + n > self.b.len() {
            return cerr(path, "truncated msgpack");
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn be(&mut self, n: usize, path: &[PathStep]) -> Result<u64, CodecError> {
        Ok(self
            .take(n, path)?
            .iter()
            .fold(0u64, |a, &x| (a << 8) | x as u64))
    }

    fn item(&mut self, path: &[PathStep]) -> Result<Item<'a>, CodecError> {
        let m = self.take(1, path)?[0];
        Ok(match m {
            0x00..=0x7f => Item::Uint(m as u64),
            0x80..=0x8f => Item::Map((m & 0x0f) as usize),
            0x90..=0x9f => Item::Array((m & 0x0f) as usize),
            0xa0..=0xbf => Item::Str(self.take((m & 0x1f) as usize, path)?),
            0xc0 => Item::Nil,
            0xc2 => Item::Bool(false),
            0xc3 => Item::Bool(true),
            0xc4..=0xc6 => {
                let n = self.be(1 << (m - 0xc4), path)? as usize;
                Item::Bin(self.take(n, path)?)
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (m - 0xc7), path)? as usize;
                let t = self.take(1, path)?[0] as i8;
                Item::Ext(t, self.take(n, path)?)
            }
            0xca => Item::F32(f32::from_bits(self.be(4, path)? as u32)),
            0xcb => Item::F64(f64::from_bits(self.be(8, path)?)),
            0xcc..=0xcf => Item::Uint(self.be(1 << (m - 0xcc), path)?),
            0xd0 => Item::Int(self.be(1, path)? as u8 as i8 as i64),
            0xd1 => Item::Int(self.be(2, path)? as u16 as i16 as i64),
            0xd2 => Item::Int(self.be(4, path)? as u32 as i32 as i64),
            0xd3 => Item::Int(self.be(8, path)? as i64),
            0xd4..=0xd8 => {
                let t = self.take(1, path)?[0] as i8;
                Item::Ext(t, self.take(1 << (m - 0xd4), path)?)
            }
            0xd9..=0xdb => {
                let n = self.be(1 << (m - 0xd9), path)? as usize;
                Item::Str(self.take(n, path)?)
            }
            0xdc | 0xdd => Item::Array(self.be(2 << (m - 0xdc), path)? as usize),
            0xde | 0xdf => Item::Map(self.be(2 << (m - 0xde), path)? as usize),
            0xe0..=0xff => Item::Int(m as i8 as i64),
            0xc1 => return cerr(path, "invalid msgpack marker 0xc1"),
        })
    }

    fn string(&mut self, path: &[PathStep]) -> Result<String, CodecError> {
        match self.item(path)? {
            Item::Str(s) | Item::Bin(s) => match std::str::from_utf8(s) {
                Ok(s) => Ok(s.to_string()),
                Err(_) => cerr(path, "string is not UTF-8"),
            },
            _ => cerr(path, "expected a string"),
        }
    }

    fn value(&mut self, ty: &Type, path: &mut Vec<PathStep>) -> Result<Value, CodecError> {
        if self.depth >= MAX_DEPTH {
            return cerr(
                path,
                format!("msgpack value nested deeper than {MAX_DEPTH} levels"),
            );
        }
        self.depth += 1;
        let v = self.value_at(ty, path);
        self.depth -= 1;
        v
    }

    fn value_at(&mut self, ty: &Type, path: &mut Vec<PathStep>) -> Result<Value, CodecError> {
        let it = self.item(path)?;
        match it {
            Item::Nil => return Ok(Value::Null),
            Item::Ext(UNKNOWN_EXT, _) => return Ok(Value::Unknown(Vec::new())),
            Item::Ext(REFINED_UNKNOWN_EXT, data) => {
                // Kept as is and sent back unchanged; never inside dynamic.
                let refn = if *ty == Type::Dynamic {
                    Vec::new()
                } else {
                    data.to_vec()
                };
                return Ok(Value::Unknown(refn));
            }
            Item::Ext(t, _) => return cerr(path, format!("unexpected msgpack extension type {t}")),
            _ => {}
        }
        match ty {
            Type::Dynamic => {
                let Item::Array(2) = it else {
                    return cerr(path, "dynamic value must be a [type, value] pair");
                };
                let tj = self.string(path)?;
                let t = Type::from_json_bytes(tj.as_bytes()).map_err(|e| CodecError {
                    path: AttributePath(path.clone()),
                    msg: e.to_string(),
                })?;
                let inner = self.value(&t, path)?;
                Ok(match inner {
                    Value::Null => Value::Null,
                    // A dynamic slot's unknown carries no refinements (the
                    // encoder sends none back): the same value whether it came
                    // as `[type, unknown]` or a bare unknown.
                    Value::Unknown(_) => Value::unknown(),
                    v => Value::Dynamic(t, Box::new(v)),
                })
            }
            Type::Bool => match it {
                Item::Bool(b) => Ok(Value::Bool(b)),
                _ => cerr(path, "expected a bool"),
            },
            Type::Number => Ok(Value::Number(match it {
                Item::Uint(n) => Number::from(n),
                Item::Int(n) => Number::from(n),
                Item::F64(f) => match Number::from_f64(f) {
                    Some(n) => n,
                    None => return cerr(path, "infinite or NaN numbers are not supported"),
                },
                Item::F32(f) => match Number::from_f64(f as f64) {
                    Some(n) => n,
                    None => return cerr(path, "infinite or NaN numbers are not supported"),
                },
                Item::Str(s) => match std::str::from_utf8(s)
                    .ok()
                    .and_then(|s| Number::parse(s).ok())
                {
                    Some(n) => n,
                    None => return cerr(path, "invalid number string"),
                },
                _ => return cerr(path, "expected a number"),
            })),
            Type::String => match it {
                Item::Str(s) | Item::Bin(s) => match std::str::from_utf8(s) {
                    Ok(s) => Ok(Value::String(s.to_string())),
                    Err(_) => cerr(path, "string is not UTF-8"),
                },
                _ => cerr(path, "expected a string"),
            },
            Type::List(et) | Type::Set(et) => {
                let Item::Array(n) = it else {
                    return cerr(path, "expected an array");
                };
                let mut vs = Vec::with_capacity(n.min(1024));
                for i in 0..n {
                    path.push(PathStep::Index(i as i64));
                    vs.push(self.value(et, path)?);
                    path.pop();
                }
                Ok(if matches!(ty, Type::Set(_)) {
                    Value::Set(vs)
                } else {
                    Value::List(vs)
                })
            }
            Type::Tuple(ts) => {
                let Item::Array(n) = it else {
                    return cerr(path, "expected an array");
                };
                if n != ts.len() {
                    return cerr(path, format!("tuple needs {} elements, has {n}", ts.len()));
                }
                let mut vs = Vec::with_capacity(n);
                for (i, t) in ts.iter().enumerate() {
                    path.push(PathStep::Index(i as i64));
                    vs.push(self.value(t, path)?);
                    path.pop();
                }
                Ok(Value::Tuple(vs))
            }
            Type::Map(et) => {
                let Item::Map(n) = it else {
                    return cerr(path, "expected a map");
                };
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.string(path)?;
                    path.push(PathStep::Key(k.clone()));
                    let v = self.value(et, path)?;
                    path.pop();
                    m.insert(k, v);
                }
                Ok(Value::Map(m))
            }
            Type::Object { attrs, .. } => {
                let Item::Map(n) = it else {
                    return cerr(path, "expected an object (map)");
                };
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = self.string(path)?;
                    let Some(at) = attrs.get(&k) else {
                        return cerr(path, format!("unsupported attribute {k:?}"));
                    };
                    path.push(PathStep::Attribute(k.clone()));
                    let v = self.value(at, path)?;
                    path.pop();
                    m.insert(k, v);
                }
                for k in attrs.keys() {
                    m.entry(k.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(m))
            }
        }
    }
}

// ----------------------------------------------------------------------- JSON

/// JSON decoding options.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonOptions {
    /// Skip object attributes that the type does not have (useful when a
    /// stored state has attributes a newer schema dropped).
    pub ignore_undefined_attributes: bool,
}

/// Decode cty JSON as a value of type `ty`. Numbers keep full precision.
pub fn from_json(b: &[u8], ty: &Type, opts: JsonOptions) -> Result<Value, CodecError> {
    let text = match std::str::from_utf8(b) {
        Ok(t) => t,
        Err(_) => return cerr(&[], "JSON is not UTF-8"),
    };
    let j = jsonlite::parse(text).map_err(|m| CodecError {
        path: AttributePath::root(),
        msg: m,
    })?;
    let mut path = Vec::new();
    json_value(&j, ty, opts, &mut path)
}

fn json_value(
    j: &jsonlite::J,
    ty: &Type,
    opts: JsonOptions,
    path: &mut Vec<PathStep>,
) -> Result<Value, CodecError> {
    use jsonlite::J;
    if let J::Null = j {
        return Ok(Value::Null);
    }
    match (ty, j) {
        (Type::Dynamic, J::Obj(kv)) => {
            let get = |n: &str| kv.iter().find(|(k, _)| k == n).map(|(_, v)| v);
            let (Some(tj), Some(vj)) = (get("type"), get("value")) else {
                return cerr(path, "dynamic value needs \"type\" and \"value\"");
            };
            let t = Type::from_json(&tj.to_serde()).map_err(|e| CodecError {
                path: AttributePath(path.clone()),
                msg: e.to_string(),
            })?;
            Ok(match json_value(vj, &t, opts, path)? {
                Value::Null => Value::Null,
                v => Value::Dynamic(t, Box::new(v)),
            })
        }
        (Type::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
        (Type::Bool, J::Str(s)) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        (Type::Number, J::Num(n) | J::Str(n)) => match Number::parse(n) {
            Ok(n) => Ok(Value::Number(n)),
            Err(e) => cerr(path, e.to_string()),
        },
        (Type::String, J::Str(s)) => Ok(Value::String(s.clone())),
        (Type::String, J::Num(n)) => Ok(Value::String(n.clone())),
        (Type::String, J::Bool(b)) => Ok(Value::String(b.to_string())),
        (Type::List(et) | Type::Set(et), J::Arr(vs)) => {
            let mut out = Vec::with_capacity(vs.len());
            for (i, e) in vs.iter().enumerate() {
                path.push(PathStep::Index(i as i64));
                out.push(json_value(e, et, opts, path)?);
                path.pop();
            }
            Ok(if matches!(ty, Type::Set(_)) {
                Value::set(out)
            } else {
                Value::List(out)
            })
        }
        (Type::Tuple(ts), J::Arr(vs)) => {
            if ts.len() != vs.len() {
                return cerr(
                    path,
                    format!("tuple needs {} elements, has {}", ts.len(), vs.len()),
                );
            }
            let mut out = Vec::with_capacity(vs.len());
            for (i, (e, t)) in vs.iter().zip(ts).enumerate() {
                path.push(PathStep::Index(i as i64));
                out.push(json_value(e, t, opts, path)?);
                path.pop();
            }
            Ok(Value::Tuple(out))
        }
        (Type::Map(et), J::Obj(kv)) => {
            let mut m = BTreeMap::new();
            for (k, e) in kv {
                path.push(PathStep::Key(k.clone()));
                m.insert(k.clone(), json_value(e, et, opts, path)?);
                path.pop();
            }
            Ok(Value::Map(m))
        }
        (Type::Object { attrs, .. }, J::Obj(kv)) => {
            let mut m = BTreeMap::new();
            for (k, e) in kv {
                let Some(at) = attrs.get(k) else {
                    if opts.ignore_undefined_attributes {
                        continue;
                    }
                    return cerr(path, format!("unsupported attribute {k:?}"));
                };
                path.push(PathStep::Attribute(k.clone()));
                m.insert(k.clone(), json_value(e, at, opts, path)?);
                path.pop();
            }
            for k in attrs.keys() {
                m.entry(k.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(m))
        }
        (t, _) => cerr(path, format!("JSON value does not fit type {t}")),
    }
}

/// Encode a value of type `ty` as cty JSON (no unknowns allowed).
pub fn to_json(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = String::new();
    let mut path = Vec::new();
    json_enc(&mut out, v, ty, &mut path)?;
    Ok(out.into_bytes())
}

fn json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("string serializes"));
}

fn json_enc(
    out: &mut String,
    v: &Value,
    ty: &Type,
    path: &mut Vec<PathStep>,
) -> Result<(), CodecError> {
    match (ty, v) {
        (_, Value::Null) => out.push_str("null"),
        (_, Value::Unknown(_)) => return cerr(path, "unknown values have no JSON form"),
        (Type::Dynamic, v) => {
            let (t, inner) = match v {
                Value::Dynamic(t, inner) => (t.clone(), &**inner),
                other => match infer_type(other) {
                    Some(t) => (t, other),
                    None => return cerr(path, "value in a dynamic slot needs an explicit type"),
                },
            };
            out.push_str("{\"value\":");
            json_enc(out, inner, &t, path)?;
            out.push_str(",\"type\":");
            out.push_str(&t.to_json().to_string());
            out.push('}');
        }
        (t, Value::Dynamic(dt, inner)) if t == dt => json_enc(out, inner, t, path)?,
        (Type::Bool, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (Type::Number, Value::Number(n)) => out.push_str(n.as_str()),
        (Type::String, Value::String(s)) => json_str(out, s),
        (Type::List(et), Value::List(vs)) | (Type::Set(et), Value::Set(vs)) => {
            out.push('[');
            for (i, e) in vs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(PathStep::Index(i as i64));
                json_enc(out, e, et, path)?;
                path.pop();
            }
            out.push(']');
        }
        (Type::Tuple(ts), Value::Tuple(vs)) if ts.len() == vs.len() => {
            out.push('[');
            for (i, (e, t)) in vs.iter().zip(ts).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                path.push(PathStep::Index(i as i64));
                json_enc(out, e, t, path)?;
                path.pop();
            }
            out.push(']');
        }
        (Type::Map(et), Value::Map(m)) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, k);
                out.push(':');
                path.push(PathStep::Key(k.clone()));
                json_enc(out, e, et, path)?;
                path.pop();
            }
            out.push('}');
        }
        (Type::Object { attrs, .. }, Value::Object(m)) => {
            out.push('{');
            for (i, (k, at)) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, k);
                out.push(':');
                path.push(PathStep::Attribute(k.clone()));
                json_enc(out, m.get(k).unwrap_or(&Value::Null), at, path)?;
                path.pop();
            }
            out.push('}');
        }
        (t, v) => return cerr(path, format!("value {} does not fit type {t}", kind(v))),
    }
    Ok(())
}

/// A small JSON reader that keeps number text intact.
mod jsonlite {
    #[derive(Debug)]
    pub enum J {
        Null,
        Bool(bool),
        Num(String),
        Str(String),
        Arr(Vec<J>),
        Obj(Vec<(String, J)>),
    }

    impl J {
        pub fn to_serde(&self) -> serde_json::Value {
            use serde_json::Value as S;
            match self {
                J::Null => S::Null,
                J::Bool(b) => S::Bool(*b),
                J::Num(n) => n.parse().map(S::Number).unwrap_or(S::Null),
                J::Str(s) => S::String(s.clone()),
                J::Arr(v) => S::Array(v.iter().map(J::to_serde).collect()),
                J::Obj(kv) => {
                    S::Object(kv.iter().map(|(k, v)| (k.clone(), v.to_serde())).collect())
                }
            }
        }
    }

    pub fn parse(s: &str) -> Result<J, String> {
        let mut p = P {
            b: s.as_bytes(),
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing characters at offset {}", p.i));
        }
        Ok(v)
    }

    struct P<'a> {
        b: &'a [u8],
        i: usize,
        depth: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }
        fn err<T>(&self, m: &str) -> Result<T, String> {
            Err(format!("invalid JSON at offset {}: {m}", self.i))
        }
        fn lit(&mut self, word: &str, v: J) -> Result<J, String> {
            if self.b[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(v)
            } else {
                self.err("unexpected token")
            }
        }
        fn value(&mut self) -> Result<J, String> {
            self.ws();
            let Some(&c) = self.b.get(self.i) else {
                return self.err("unexpected end");
            };
            match c {
                b'n' => self.lit("null", J::Null),
                b't' => self.lit("true", J::Bool(true)),
                b'f' => self.lit("false", J::Bool(false)),
                b'"' => Ok(J::Str(self.string()?)),
                b'[' => {
                    self.depth += 1;
                    if self.depth > 512 {
                        return self.err("nested too deeply");
                    }
                    self.i += 1;
                    let mut v = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b']') {
                        self.i += 1;
                    } else {
                        loop {
                            v.push(self.value()?);
                            self.ws();
                            match self.b.get(self.i) {
                                Some(b',') => self.i += 1,
                                Some(b']') => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return self.err("expected , or ]"),
                            }
                        }
                    }
                    self.depth -= 1;
                    Ok(J::Arr(v))
                }
                b'{' => {
                    self.depth += 1;
                    if self.depth > 512 {
                        return self.err("nested too deeply");
                    }
                    self.i += 1;
                    let mut kv = Vec::new();
                    self.ws();
                    if self.b.get(self.i) == Some(&b'}') {
                        self.i += 1;
                    } else {
                        loop {
                            self.ws();
                            if self.b.get(self.i) != Some(&b'"') {
                                return self.err("expected a key");
                            }
                            let k = self.string()?;
                            self.ws();
                            if self.b.get(self.i) != Some(&b':') {
                                return self.err("expected :");
                            }
                            self.i += 1;
                            kv.push((k, self.value()?));
                            self.ws();
                            match self.b.get(self.i) {
                                Some(b',') => self.i += 1,
                                Some(b'}') => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return self.err("expected , or }"),
                            }
                        }
                    }
                    self.depth -= 1;
                    Ok(J::Obj(kv))
                }
                b'-' | b'0'..=b'9' => {
                    let st = self.i;
                    while self.i < self.b.len()
                        && matches!(
                            self.b[self.i],
                            b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                        )
                    {
                        self.i += 1;
                    }
                    Ok(J::Num(
                        String::from_utf8_lossy(&self.b[st..self.i]).into_owned(),
                    ))
                }
                _ => self.err("unexpected character"),
            }
        }
        fn string(&mut self) -> Result<String, String> {
            // Find the closing quote, honouring escapes, then let serde_json
            // do the unescaping.
            let st = self.i;
            self.i += 1;
            while self.i < self.b.len() {
                match self.b[self.i] {
                    b'\\' => self.i += 2,
                    b'"' => {
                        self.i += 1;
                        let raw =
                            std::str::from_utf8(&self.b[st..self.i]).map_err(|e| e.to_string())?;
                        return serde_json::from_str(raw).map_err(|e| e.to_string());
                    }
                    _ => self.i += 1,
                }
            }
            self.err("unterminated string")
        }
    }
}
