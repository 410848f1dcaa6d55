//! The CLI's side of the HTTP API: `switchboard plugin push|activate|
//! rollback|list|logs` and `switchboard kpi` against a running server.
//! Errors print the server's problem `detail`, which says what to fix.

use anyhow::{Context as _, bail};
use serde_json::Value;

/// Where the server is and how to sign in.
#[derive(Debug, Clone, clap::Args)]
pub struct Remote {
    /// The server's base URL.
    #[arg(
        long,
        env = "SWITCHBOARD_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// A bearer token (see `switchboard token create`).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: String,
}

impl Remote {
    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(300)))
            .build()
            .into()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }

    fn finish(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<Value> {
        let mut res = result.with_context(|| {
            format!(
                "cannot reach the server at {}: is it running? (--server)",
                self.server
            )
        })?;
        let status = res.status();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let detail = body["detail"]
                .as_str()
                .map_or_else(|| body.to_string(), str::to_owned);
            bail!("{what} failed ({status}): {detail}");
        }
        Ok(body)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = Self::agent()
            .get(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        self.finish(&format!("GET {path}"), r)
    }

    /// `GET path`, its body as a reader (for large answers such as a backup).
    pub fn get_stream(&self, path: &str) -> anyhow::Result<impl std::io::Read + use<>> {
        let r = Self::agent()
            .get(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        let res = r.with_context(|| {
            format!(
                "cannot reach the server at {}: is it running? (--server)",
                self.server
            )
        })?;
        if !res.status().is_success() {
            let status = res.status();
            return Err(self
                .finish(&format!("GET {path}"), Ok(res))
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("GET {path} failed ({status})")));
        }
        Ok(res.into_body().into_reader())
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = Self::agent()
            .post(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        self.finish(&format!("POST {path}"), r)
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = Self::agent()
            .put(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        self.finish(&format!("PUT {path}"), r)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        let r = Self::agent()
            .delete(self.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        self.finish(&format!("DELETE {path}"), r)
    }
}
