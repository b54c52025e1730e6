//! Generates a message enum, its op numbers and its codec from one table,
//! so the variant, its fields and their wire order cannot drift apart.

/// `messages! { Enum { /// doc
/// Variant = op::CONST { /// doc
/// field: Type, ... } ... } }`: one variant per operation, fields encoded
/// in the order written.
macro_rules! messages {
    (
        $(#[$edoc:meta])*
        $enum:ident {
            $(
                $(#[$vdoc:meta])*
                $var:ident = $op:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? }
            )*
        }
    ) => {
        $(#[$edoc])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum $enum {
            $(
                $(#[$vdoc])*
                $var { $( $(#[$fdoc])* $field: $ty ),* },
            )*
        }

        impl $enum {
            /// Its operation number ([`crate::op`]).
            pub fn op(&self) -> u16 {
                match self {
                    $( $enum::$var { .. } => crate::op::$op, )*
                }
            }

            /// Appends its body encoding (the fields in order).
            pub fn encode_into(&self, w: &mut crate::wire::Writer) {
                match self {
                    $(
                        #[allow(unused_variables)]
                        $enum::$var { $($field),* } => {
                            $( <$ty as crate::wire::Wire>::put($field, w); )*
                        }
                    )*
                }
            }

            /// Decodes the body of operation `op`. An operation this build
            /// does not know is [`crate::ProtoError::UnknownOp`]; bytes left
            /// over after the last field are an error.
            pub fn decode(op: u16, body: &bytes::Bytes) -> Result<Self, crate::ProtoError> {
                #[allow(unused_mut, unused_variables)]
                let mut r = crate::wire::Reader::new(body);
                let v = match op {
                    $(
                        crate::op::$op => $enum::$var {
                            $( $field: <$ty as crate::wire::Wire>::get(&mut r)? ),*
                        },
                    )*
                    other => return Err(crate::ProtoError::UnknownOp(other)),
                };
                r.finish()?;
                Ok(v)
            }
        }
    };
}

pub(crate) use messages;
