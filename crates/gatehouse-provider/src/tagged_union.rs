//! OpenAPI schemas for the bodies whose shape depends on the factor kind: a serde enum
//! tagged by `kind` (`#[serde(tag = "kind")]`) whose variants wrap structs. utoipa
//! would describe such an enum as a `oneOf` of anonymous `allOf`s, which generators
//! cannot narrow; [`tagged_union!`] makes each variant a named schema (the struct's
//! members plus its `kind` value) and the enum a `oneOf` of them with a `kind`
//! `discriminator`, so a generated client gets one type per kind and narrows on `kind`.

use utoipa::openapi::schema::{Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// `schema` (an object) with a required `kind` member that has the one value `kind`.
pub fn with_kind(kind: &str, schema: RefOr<Schema>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = schema else {
        return schema;
    };
    let tag = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([kind]))
        .build();
    object.properties.insert("kind".to_owned(), tag.into());
    object.required.insert(0, "kind".to_owned());
    RefOr::T(Schema::Object(object))
}

/// A `oneOf` of the named variant schemas, discriminated by `kind`.
pub fn one_of_kinds(description: &str, variants: &[(&str, &str)]) -> RefOr<Schema> {
    let mut discriminator = Discriminator::new("kind");
    let mut one_of = OneOfBuilder::new().description(Some(description));
    for (kind, name) in variants {
        let reference = Ref::from_schema_name(*name);
        discriminator
            .mapping
            .insert((*kind).to_owned(), reference.ref_location.clone());
        one_of = one_of.item(reference);
    }
    RefOr::T(Schema::OneOf(
        one_of.discriminator(Some(discriminator)).build(),
    ))
}

/// Implements `ToSchema` for a `kind`-tagged enum: `tagged_union!(Enum, "description",
/// { "kind_value" => "VariantSchemaName": WrappedStruct, … })`, one line per variant,
/// in the enum's order.
macro_rules! tagged_union {
    ($union:ty, $description:literal, { $($kind:literal => $name:literal : $body:ty),+ $(,)? }) => {
        impl utoipa::PartialSchema for $union {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::tagged_union::one_of_kinds($description, &[$(($kind, $name)),+])
            }
        }

        impl utoipa::ToSchema for $union {
            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                $(
                    schemas.push((
                        $name.to_owned(),
                        $crate::tagged_union::with_kind(
                            $kind,
                            <$body as utoipa::PartialSchema>::schema(),
                        ),
                    ));
                    <$body as utoipa::ToSchema>::schemas(schemas);
                )+
            }
        }
    };
}

pub(crate) use tagged_union;
