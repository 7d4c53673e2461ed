//! cty values: `Null` and `Unknown` may appear at any depth.

use std::collections::BTreeMap;

use crate::number::Number;
use crate::path::AttributePath;
use crate::types::Type;

/// A value whose shape is given by a [`Type`] held elsewhere (the schema).
///
/// Values inside a `DynamicPseudoType` slot that are known and not null
/// carry their concrete type in [`Value::Dynamic`].
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    /// Not known until apply. The bytes are the msgpack refinement payload
    /// Terraform sent (empty when there is none); they are sent back as is.
    Unknown(Vec<u8>),
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Elements in no particular order. Unknown elements are never merged:
    /// two unknowns are two elements.
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    /// A known value in a `DynamicPseudoType` slot, with its concrete type.
    Dynamic(Type, Box<Value>),
}

impl Value {
    /// A plain (unrefined) unknown.
    pub fn unknown() -> Value {
        Value::Unknown(Vec::new())
    }

    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    /// Build a set, dropping duplicate wholly-known elements (unknown
    /// elements are all kept).
    pub fn set(elems: Vec<Value>) -> Value {
        let mut out: Vec<Value> = Vec::with_capacity(elems.len());
        for e in elems {
            if e.is_wholly_known() && out.iter().any(|o| o.is_wholly_known() && *o == e) {
                continue;
            }
            out.push(e);
        }
        Value::Set(out)
    }

    pub fn object<I, S>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (S, Value)>,
        S: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// No unknown anywhere inside.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown(_) => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
        }
    }

    /// Equality as Terraform sees it: sets compare as unordered
    /// collections; an unknown equals nothing (not even another unknown).
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Unknown(_), _) | (_, Value::Unknown(_)) => false,
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.iter().any(|y| x.same_as(y)))
                    && b.iter().all(|y| a.iter().any(|x| x.same_as(y)))
            }
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, x)| b.get(k).is_some_and(|y| x.same_as(y)))
            }
            (Value::Dynamic(ta, a), Value::Dynamic(tb, b)) => ta == tb && a.same_as(b),
            (Value::Dynamic(_, a), b) | (b, Value::Dynamic(_, a)) => a.same_as(b),
            (a, b) => a == b,
        }
    }

    /// Attribute of an object value (`None` for null/unknown/non-objects
    /// or missing attributes).
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            Value::Dynamic(_, v) => v.get(name),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) => m.get_mut(name),
            _ => None,
        }
    }

    /// Set an attribute of an object value; no-op on other values.
    pub fn set_attr(&mut self, name: &str, v: Value) {
        if let Value::Object(m) = self {
            m.insert(name.to_string(), v);
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// Elements of a list, set or tuple.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Follow a path; `None` when a step does not apply.
    pub fn at(&self, path: &AttributePath) -> Option<&Value> {
        use crate::path::PathStep;
        let mut cur = self;
        for step in &path.0 {
            if let Value::Dynamic(_, v) = cur {
                cur = v;
            }
            cur = match (step, cur) {
                (PathStep::Attribute(n), Value::Object(m)) => m.get(n)?,
                (PathStep::Key(k), Value::Map(m)) => m.get(k)?,
                (PathStep::Index(i), Value::List(v) | Value::Tuple(v)) => {
                    v.get(usize::try_from(*i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The null value of an object type with every attribute null; handy
    /// as a starting point. For other types this is `Null`.
    pub fn null_object(ty: &Type) -> Value {
        match ty {
            Type::Object { attrs, .. } => {
                Value::Object(attrs.keys().map(|k| (k.clone(), Value::Null)).collect())
            }
            _ => Value::Null,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n.into())
    }
}
impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}
