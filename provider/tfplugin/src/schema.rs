//! Schema builder: blocks, attributes, nested blocks and nested attributes,
//! with conversion to the protocol's `Schema` and to the implied cty type.

use std::collections::BTreeMap;

use crate::proto::tfplugin6 as pb;
use crate::types::Type;

/// A versioned schema: the root block of a provider, resource or data source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(block: Block) -> Self {
        Schema { version: 0, block }
    }
    pub fn version(mut self, v: i64) -> Self {
        self.version = v;
        self
    }
    /// The cty type of values under this schema.
    pub fn value_type(&self) -> Type {
        self.block.implied_type()
    }
    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }
}

/// How the elements of a nested block are collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; the value is an object or null.
    Single,
    /// Like `Single`, but the value is never null: absent means all
    /// attributes null.
    Group,
    List,
    Set,
    /// Blocks with one label each, keyed by it.
    Map,
}

/// A configuration block: attributes and nested blocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub markdown: bool,
    pub deprecated: bool,
    pub deprecation_message: String,
}

impl Block {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn attribute(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    pub fn block(mut self, name: impl Into<String>, nesting: Nesting, block: Block) -> Self {
        self.blocks.push(NestedBlock {
            type_name: name.into(),
            nesting,
            block,
            min_items: 0,
            max_items: 0,
        });
        self
    }
    /// Add a fully specified nested block (with min/max items).
    pub fn nested(mut self, nb: NestedBlock) -> Self {
        self.blocks.push(nb);
        self
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
    pub fn markdown(mut self) -> Self {
        self.markdown = true;
        self
    }
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    pub fn get_attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    pub fn get_block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == name)
    }

    /// The object type of this block's values.
    pub fn implied_type(&self) -> Type {
        let mut attrs: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .collect();
        for b in &self.blocks {
            attrs.insert(b.type_name.clone(), b.value_type());
        }
        Type::Object {
            attrs,
            optional: Default::default(),
        }
    }

    pub fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self.blocks.iter().map(NestedBlock::to_proto).collect(),
            description: self.description.clone(),
            description_kind: kind(self.markdown),
            deprecated: self.deprecated,
            deprecation_message: self.deprecation_message.clone(),
            computed: false,
        }
    }
}

fn kind(markdown: bool) -> i32 {
    if markdown {
        pb::StringKind::Markdown as i32
    } else {
        pb::StringKind::Plain as i32
    }
}

/// A nested block type within a block.
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn new(name: impl Into<String>, nesting: Nesting, block: Block) -> Self {
        NestedBlock {
            type_name: name.into(),
            nesting,
            block,
            min_items: 0,
            max_items: 0,
        }
    }
    pub fn min_items(mut self, n: i64) -> Self {
        self.min_items = n;
        self
    }
    pub fn max_items(mut self, n: i64) -> Self {
        self.max_items = n;
        self
    }

    /// The type of this block's value in its parent object. Lists and maps
    /// of blocks that contain dynamic attributes become `Dynamic`, as in
    /// Terraform (their elements may differ in type).
    pub fn value_type(&self) -> Type {
        let inner = self.block.implied_type();
        match self.nesting {
            Nesting::Single | Nesting::Group => inner,
            Nesting::List if inner.has_dynamic() => Type::Dynamic,
            Nesting::Map if inner.has_dynamic() => Type::Dynamic,
            Nesting::List => Type::list(inner),
            Nesting::Set => Type::set(inner),
            Nesting::Map => Type::map(inner),
        }
    }

    pub fn to_proto(&self) -> pb::schema::NestedBlock {
        use pb::schema::nested_block::NestingMode as M;
        pb::schema::NestedBlock {
            type_name: self.type_name.clone(),
            block: Some(self.block.to_proto(0)),
            nesting: match self.nesting {
                Nesting::Single => M::Single,
                Nesting::Group => M::Group,
                Nesting::List => M::List,
                Nesting::Set => M::Set,
                Nesting::Map => M::Map,
            } as i32,
            min_items: self.min_items,
            max_items: self.max_items,
        }
    }
}

/// Nested attribute object (protocol 6 "nested_type").
#[derive(Clone, Debug, PartialEq)]
pub struct NestedAttributes {
    /// `Group` is not allowed here.
    pub nesting: Nesting,
    pub attributes: Vec<Attribute>,
}

/// An attribute of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub nested: Option<NestedAttributes>,
    pub description: String,
    pub markdown: bool,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub deprecated: bool,
    pub deprecation_message: String,
    pub write_only: bool,
    /// Not part of the protocol: the server reports a change of this
    /// attribute in a plan as requiring replacement.
    pub force_new: bool,
}

impl Attribute {
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Attribute {
            name: name.into(),
            ty,
            nested: None,
            description: String::new(),
            markdown: false,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            deprecated: false,
            deprecation_message: String::new(),
            write_only: false,
            force_new: false,
        }
    }
    /// An attribute whose type is given by nested attributes.
    pub fn nested(name: impl Into<String>, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        let mut a = Attribute::new(name, Type::Dynamic);
        a.nested = Some(NestedAttributes {
            nesting,
            attributes,
        });
        a.ty = a.value_type();
        a
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self.optional = false;
        self
    }
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self.required = false;
        self
    }
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    /// Deprecate with a message shown to users.
    pub fn deprecated_because(mut self, msg: impl Into<String>) -> Self {
        self.deprecated = true;
        self.deprecation_message = msg.into();
        self
    }
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
    pub fn markdown(mut self) -> Self {
        self.markdown = true;
        self
    }

    /// The cty type of this attribute's values.
    pub fn value_type(&self) -> Type {
        match &self.nested {
            None => self.ty.clone(),
            Some(n) => {
                let obj = Type::object(
                    n.attributes
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type())),
                );
                match n.nesting {
                    Nesting::Single | Nesting::Group => obj,
                    Nesting::List => Type::list(obj),
                    Nesting::Set => Type::set(obj),
                    Nesting::Map => Type::map(obj),
                }
            }
        }
    }

    pub fn to_proto(&self) -> pb::schema::Attribute {
        use pb::schema::object::NestingMode as M;
        #[allow(deprecated)]
        let nested_type = self.nested.as_ref().map(|n| pb::schema::Object {
            attributes: n.attributes.iter().map(Attribute::to_proto).collect(),
            nesting: match n.nesting {
                Nesting::Single | Nesting::Group => M::Single,
                Nesting::List => M::List,
                Nesting::Set => M::Set,
                Nesting::Map => M::Map,
            } as i32,
            min_items: 0,
            max_items: 0,
        });
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: if nested_type.is_some() {
                Vec::new()
            } else {
                self.ty.to_json_bytes()
            },
            nested_type,
            description: self.description.clone(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: kind(self.markdown),
            deprecated: self.deprecated,
            write_only: self.write_only,
            deprecation_message: self.deprecation_message.clone(),
        }
    }
}
