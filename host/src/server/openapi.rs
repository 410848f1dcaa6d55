//! The OpenAPI 3.1 document: the handlers' `#[utoipa::path]` annotations
//! collected by the router, plus what every `/v1` operation shares (bearer
//! auth, the problem responses, the roles allowed in `x-roles`).

use utoipa::OpenApi;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use super::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "switchboard",
        description = "Contact-center rules platform: contacts, agents and queues, routed, escalated, checked and measured by sandboxed WebAssembly plugins, with an append-only audit log. Every `/v1` operation needs `Authorization: Bearer <token>`; `x-roles` lists the roles allowed. Errors are `application/problem+json` (RFC 9457).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "contacts", description = "Contacts and their lifecycle events"),
        (name = "drafts", description = "Agents' replies: compliance checks and supervisor approval"),
        (name = "floor", description = "Agents, queues, schedules and adherence, live stats, the event stream, notifications"),
        (name = "incidents", description = "Incident mode: outages and security issues rules route around"),
        (name = "kpis", description = "KPI measures and queries"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "plugins", description = "Plugin versions and the slots that run them"),
        (name = "tokens", description = "Bearer tokens and roles"),
        (name = "operations", description = "Health, readiness, metrics"),
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

/// The document before the routes are added.
pub(super) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The responses every `/v1` operation may give besides its own.
const COMMON: [(&str, &str); 8] = [
    (
        "400",
        "Malformed request: bad JSON, a wrong type, an unknown field or parameter",
    ),
    ("401", "No token, or not a valid one"),
    (
        "403",
        "The token's role may not do this, or an agent's own token acts as another agent",
    ),
    (
        "408",
        "The request body stopped arriving before it was complete",
    ),
    ("413", "The body is too large"),
    ("415", "The body is not `application/json`"),
    (
        "500",
        "The server failed; nothing was stored, the server log has the details",
    ),
    (
        "503",
        "The server cannot take the request now: too many open connections (from the caller's address or in all; retry after closing idle ones), or the token store could not be read while checking the token (a storage fault, not a bad token; nothing was done, try again)",
    ),
];

/// Add bearer auth and the shared problem responses to every `/v1`
/// operation, and the roles to each operation's description; state every
/// integer's range and the problem responses' content type.
pub(super) fn finish(doc: &mut utoipa::openapi::OpenApi) {
    integer_ranges(doc);
    problem_content_type(doc);
    path_parameters_not_empty(doc);
    close_externally_tagged_variants(doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("sb_<id>_<secret>")
                .build(),
        )),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            op.security = Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]);
            for (status, description) in COMMON {
                // A body is only read by operations that take one.
                if matches!(status, "413" | "415") && op.request_body.is_none() {
                    continue;
                }
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build(),
                        )
                    });
            }
            let roles = op
                .extensions
                .as_ref()
                .and_then(|x| x.get("x-roles"))
                .and_then(|r| r.as_array())
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str())
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
            if let Some(roles) = roles {
                let text = op.description.get_or_insert_with(String::new);
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                text.push_str(&format!("Roles: {roles}."));
            }
        }
    }
}

/// `[contact id, agent id]` pairs, as an array of two strings: utoipa
/// writes a tuple as `prefixItems` with `items: false`, which common
/// OpenAPI tools (schemathesis among them) do not read.
pub(super) fn offer_pairs() -> utoipa::openapi::schema::Array {
    let pair = utoipa::openapi::schema::ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .min_items(Some(2))
        .max_items(Some(2));
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(pair)
        .description(Some(
            "`[contact id, agent id]` pairs offered because of the change.",
        ))
        .build()
}

/// The name and the values of an integer format: the Rust type behind it
/// (utoipa's `non_strict_integers` names `u8` `uint8`, `i64` `int64`, ...).
fn integer_format(format: &SchemaFormat) -> Option<(&'static str, i128, i128)> {
    let known = match format {
        SchemaFormat::KnownFormat(k) => k.clone(),
        // Already renamed (below).
        SchemaFormat::Custom(name) => match name.as_str() {
            "uint8" => KnownFormat::UInt8,
            "uint16" => KnownFormat::UInt16,
            "uint32" => KnownFormat::UInt32,
            "uint64" => KnownFormat::UInt64,
            _ => return None,
        },
    };
    Some(match known {
        KnownFormat::Int8 => ("int8", i8::MIN.into(), i8::MAX.into()),
        KnownFormat::Int16 => ("int16", i16::MIN.into(), i16::MAX.into()),
        KnownFormat::Int32 => ("int32", i32::MIN.into(), i32::MAX.into()),
        KnownFormat::Int64 => ("int64", i64::MIN.into(), i64::MAX.into()),
        KnownFormat::UInt8 => ("uint8", 0, u8::MAX.into()),
        KnownFormat::UInt16 => ("uint16", 0, u16::MAX.into()),
        KnownFormat::UInt32 => ("uint32", 0, u32::MAX.into()),
        KnownFormat::UInt64 => ("uint64", 0, u64::MAX.into()),
        _ => return None,
    })
}

fn number(v: i128) -> utoipa::Number {
    match (usize::try_from(v), isize::try_from(v)) {
        (Ok(u), _) => utoipa::Number::UInt(u),
        (_, Ok(i)) => utoipa::Number::Int(i),
        #[allow(clippy::cast_precision_loss)] // only on 32-bit targets
        _ => utoipa::Number::Float(v as f64),
    }
}

/// Give every integer the minimum and maximum of its type, unless the
/// field states a narrower one: the server refuses what does not fit the
/// type, so a generated client must not send it. Formats are spelled as in
/// the OpenAPI format registry (utoipa writes `u-int8` for `uint8`).
fn integer_ranges(doc: &mut utoipa::openapi::OpenApi) {
    let bound = &mut |o: &mut Object| {
        let integer = match &o.schema_type {
            SchemaType::Type(t) => *t == Type::Integer,
            SchemaType::Array(ts) => ts.contains(&Type::Integer),
            SchemaType::AnyValue => false,
        };
        let Some((name, lo, hi)) = o.format.as_ref().and_then(integer_format) else {
            return;
        };
        if integer {
            o.format = Some(SchemaFormat::Custom(name.to_owned()));
            o.minimum.get_or_insert_with(|| number(lo));
            o.maximum.get_or_insert_with(|| number(hi));
        }
    };
    each_schema(doc, bound);
}

/// A path parameter is a non-empty segment: `/v1/agents/` is no agent's
/// path but no endpoint at all.
fn path_parameters_not_empty(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for p in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = p
                    && p.parameter_in == ParameterIn::Path
                    && let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut()
                {
                    o.min_length.get_or_insert(1);
                }
            }
        }
    }
}

/// An externally tagged enum (`"all"` or `{"team": "red"}`) is a `oneOf`
/// of names and one-key objects; serde reads exactly that one key, so the
/// objects admit no other.
fn close_externally_tagged_variants(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::OneOf(one_of)) = schema else {
            continue;
        };
        let one_key = |s: &RefOr<Schema>| match s {
            RefOr::T(Schema::Object(o)) => {
                o.properties.len() == 1 && o.required.len() == 1 || o.enum_values.is_some()
            }
            _ => false,
        };
        if !one_of.items.iter().all(one_key) {
            continue;
        }
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(o)) = item
                && o.properties.len() == 1
            {
                o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// Problem responses are sent as `application/problem+json`; a handler's
/// `body = Problem` documents `application/json` unless corrected here.
fn problem_content_type(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for response in op.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = matches!(
                    response.content.get("application/json"),
                    Some(RefOr::T(c)) if matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                );
                if is_problem && let Some(c) = response.content.shift_remove("application/json") {
                    response
                        .content
                        .insert("application/problem+json".to_owned(), c);
                }
            }
        }
    }
}

/// Call `f` on every object schema of the document: components, and the
/// inline schemas of parameters, request bodies and responses.
fn each_schema(doc: &mut utoipa::openapi::OpenApi, f: &mut impl FnMut(&mut Object)) {
    if let Some(c) = doc.components.as_mut() {
        for s in c.schemas.values_mut() {
            visit(s, f);
        }
    }
    for item in doc.paths.paths.values_mut() {
        for p in item.parameters.iter_mut().flatten() {
            if let RefOr::T(p) = p
                && let Some(s) = p.schema.as_mut()
            {
                visit(s, f);
            }
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            for p in op.parameters.iter_mut().flatten() {
                if let RefOr::T(p) = p
                    && let Some(s) = p.schema.as_mut()
                {
                    visit(s, f);
                }
            }
            if let Some(RefOr::T(body)) = op.request_body.as_mut() {
                for c in body.content.values_mut() {
                    if let RefOr::T(c) = c
                        && let Some(s) = c.schema.as_mut()
                    {
                        visit(s, f);
                    }
                }
            }
            for r in op.responses.responses.values_mut() {
                if let RefOr::T(r) = r {
                    for c in r.content.values_mut() {
                        if let RefOr::T(c) = c
                            && let Some(s) = c.schema.as_mut()
                        {
                            visit(s, f);
                        }
                    }
                }
            }
        }
    }
}

fn visit(schema: &mut RefOr<Schema>, f: &mut impl FnMut(&mut Object)) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(o) => {
            f(o);
            for p in o.properties.values_mut() {
                visit(p, f);
            }
            if let Some(AdditionalProperties::RefOr(a)) = o.additional_properties.as_deref_mut() {
                visit(a, f);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                visit(items, f);
            }
            for p in &mut a.prefix_items {
                if let Schema::Object(o) = p {
                    f(o);
                }
            }
        }
        Schema::OneOf(x) => x.items.iter_mut().for_each(|s| visit(s, f)),
        Schema::AllOf(x) => x.items.iter_mut().for_each(|s| visit(s, f)),
        Schema::AnyOf(x) => x.items.iter_mut().for_each(|s| visit(s, f)),
        _ => {}
    }
}
