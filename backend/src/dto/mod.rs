//! The API's data: one input and one output type per operation, and a type per
//! shape they use, generated from the API model (`generated.rs`, see
//! `query/codegen.rs`). Wire-neutral: the codec lives in `query/`.

mod generated;

pub use generated::*;

/// A string enum of the model as an open newtype (as s3s does): the model's
/// values are associated constants, and a value AWS adds later still round-trips.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($c:ident = $v:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name(std::borrow::Cow<'static, str>);

        impl $name {
            $(pub const $c: Self = Self(std::borrow::Cow::Borrowed($v));)*
            /// Every value the model lists, in model order.
            pub const VALUES: &'static [&'static str] = &[$($v),*];

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(std::borrow::Cow::Owned(s))
            }
        }

        impl From<&'static str> for $name {
            fn from(s: &'static str) -> Self {
                Self(std::borrow::Cow::Borrowed(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0.into_owned()
            }
        }
    };
}
pub(crate) use open_enum;
