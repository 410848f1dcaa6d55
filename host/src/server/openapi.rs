//! The OpenAPI 3.1 document: the handlers' `#[utoipa::path]` annotations
//! collected by the router, plus what every `/v1` operation shares (bearer
//! auth, the problem responses, the roles allowed in `x-roles`).

use utoipa::OpenApi;
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
/// operation, and the roles to each operation's description.
pub(super) fn finish(doc: &mut utoipa::openapi::OpenApi) {
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
