//! What jwtctl knows of the CI providers' identity tokens: each issuer's URL and the claims its
//! tokens carry, as the providers document them.

/// A CI provider (or identity provider) a policy can name with `preset = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    GithubActions,
    Gitlab,
    Buildkite,
    Kubernetes,
    Google,
}

/// Claims every JWT may carry, whatever its issuer (RFC 7519 §4.1).
const REGISTERED: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::GithubActions,
        Preset::Gitlab,
        Preset::Buildkite,
        Preset::Kubernetes,
        Preset::Google,
    ];

    /// The name a policy file and `policy new --preset` use.
    pub fn name(self) -> &'static str {
        match self {
            Preset::GithubActions => "github-actions",
            Preset::Gitlab => "gitlab",
            Preset::Buildkite => "buildkite",
            Preset::Kubernetes => "kubernetes",
            Preset::Google => "google",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The names, for a message listing them.
    pub fn names() -> String {
        Preset::ALL.map(Preset::name).join(", ")
    }

    /// The issuer URL the provider's tokens carry (a self-hosted GitLab or a cluster has its
    /// own: the policy's `url` says which).
    pub fn issuer(self) -> &'static str {
        match self {
            Preset::GithubActions => "https://token.actions.githubusercontent.com",
            Preset::Gitlab => "https://gitlab.com",
            Preset::Buildkite => "https://agent.buildkite.com",
            Preset::Kubernetes => "https://kubernetes.default.svc.cluster.local",
            Preset::Google => "https://accounts.google.com",
        }
    }

    /// The claims the provider's tokens carry besides the registered ones.
    pub fn claims(self) -> &'static [&'static str] {
        match self {
            // docs.github.com: "About security hardening with OpenID Connect".
            Preset::GithubActions => &[
                "actor",
                "actor_id",
                "base_ref",
                "check_run_id",
                "enterprise",
                "enterprise_id",
                "environment",
                "environment_node_id",
                "event_name",
                "head_ref",
                "job_workflow_ref",
                "job_workflow_sha",
                "ref",
                "ref_protected",
                "ref_type",
                "repository",
                "repository_id",
                "repository_owner",
                "repository_owner_id",
                "repository_visibility",
                "run_attempt",
                "run_id",
                "run_number",
                "runner_environment",
                "sha",
                "workflow",
                "workflow_ref",
                "workflow_sha",
            ],
            // docs.gitlab.com: "OpenID Connect (OIDC) authentication using ID tokens".
            Preset::Gitlab => &[
                "ci_config_ref_uri",
                "ci_config_sha",
                "deployment_tier",
                "environment",
                "environment_action",
                "environment_protected",
                "groups_direct",
                "job_id",
                "job_project_id",
                "job_project_path",
                "namespace_id",
                "namespace_path",
                "pipeline_id",
                "pipeline_source",
                "project_id",
                "project_path",
                "project_visibility",
                "ref",
                "ref_path",
                "ref_protected",
                "ref_type",
                "runner_environment",
                "runner_id",
                "sha",
                "user_access_level",
                "user_email",
                "user_id",
                "user_identities",
                "user_login",
            ],
            // buildkite.com/docs: "OIDC with Buildkite".
            Preset::Buildkite => &[
                "agent_id",
                "build_branch",
                "build_commit",
                "build_number",
                "build_source",
                "build_tag",
                "cluster_id",
                "cluster_name",
                "job_id",
                "organization_id",
                "organization_slug",
                "pipeline_id",
                "pipeline_slug",
                "queue_id",
                "queue_key",
                "runner_environment",
                "step_key",
            ],
            // kubernetes.io: service account tokens (projected volumes, TokenRequest).
            Preset::Kubernetes => &["kubernetes.io"],
            // developers.google.com: ID token claims.
            Preset::Google => &[
                "at_hash",
                "azp",
                "email",
                "email_verified",
                "family_name",
                "given_name",
                "google",
                "hd",
                "locale",
                "name",
                "nonce",
                "picture",
            ],
        }
    }

    /// Whether the provider's tokens can carry `claim`.
    pub fn knows(self, claim: &str) -> bool {
        REGISTERED.contains(&claim) || self.claims().contains(&claim)
    }

    /// A claim this provider names that re-registration can give to someone else, and the
    /// id claim that pins it (GitHub: a renamed or deleted repository's name can be taken).
    pub fn pins(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Preset::GithubActions => &[
                ("repository", "repository_id"),
                ("repository_owner", "repository_owner_id"),
            ],
            Preset::Gitlab => &[
                ("project_path", "project_id"),
                ("namespace_path", "namespace_id"),
            ],
            _ => &[],
        }
    }
}

/// The id rules (TOML) for the names `claims` carries, each commented with the name it pins:
/// what `policy pin` prints.
pub fn pin_rules(claims: &crate::token::Claims) -> String {
    let mut out = String::new();
    for preset in [Preset::GithubActions, Preset::Gitlab] {
        for (name, id) in preset.pins() {
            let (Some(name_value), Some(id_value)) = (
                crate::token::claim(claims, name).and_then(|v| v.as_str()),
                crate::token::claim(claims, id),
            ) else {
                continue;
            };
            let id_value = match id_value {
                serde_json::Value::String(s) => serde_json::Value::from(s.as_str()),
                other => other.clone(),
            };
            out.push_str(&format!(
                "[[issuer.rule]] # {name} {}\nclaim = \"{id}\"\neq = {id_value}\n\n",
                serde_json::Value::from(name_value)
            ));
        }
    }
    out.truncate(out.trim_end().len());
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// A starting policy for `preset`, with comments saying what to fill in.
pub fn template(
    preset: Preset,
    issuer: &str,
    aud: Option<&str>,
    repositories: &[String],
) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let aud = aud.map_or_else(|| q("REPLACE-with-your-audience"), q);
    let mut out = format!(
        "# A jwtctl policy for {name} identity tokens: who may deploy.\n\
         # Check it with `jwtctl policy check FILE`; use it with `jwtctl verify --policy FILE`.\n\
         # Reference: docs/policy.md.\n\n\
         [[issuer]]\n\
         url = {url}\n\
         preset = \"{name}\"\n\
         # The keys: OpenID Connect discovery at the url (or jwks_url = \"...\", jwks_file = \"...\").\n\
         oidc = true\n\
         # The audience your tokens are minted for.\n\
         audiences = [{aud}]\n\
         max_age = \"15m\"\n",
        name = preset.name(),
        url = q(issuer),
    );
    let rules = match preset {
        Preset::GithubActions => github_rules(repositories),
        Preset::Gitlab => gitlab_rules(repositories),
        Preset::Buildkite => "\n# The organisation and pipelines allowed.\n[[issuer.rule]]\n\
             claim = \"organization_slug\"\neq = \"REPLACE-org\"\n\n[[issuer.rule]]\n\
             claim = \"pipeline_slug\"\none_of = [\"REPLACE-pipeline\"]\n\n\
             [[issuer.rule]]\nclaim = \"build_branch\"\neq = \"main\"\n"
            .to_owned(),
        Preset::Kubernetes => "\n# The service account allowed: system:serviceaccount:NAMESPACE:NAME.\n\
             [[issuer.rule]]\nclaim = \"sub\"\neq = \"system:serviceaccount:REPLACE-namespace:REPLACE-name\"\n"
            .to_owned(),
        Preset::Google => "\n# The service accounts allowed, by their unique id (sub) and email.\n\
             [[issuer.rule]]\nclaim = \"sub\"\neq = \"REPLACE-numeric-id\"\n\n[[issuer.rule]]\n\
             claim = \"email_verified\"\neq = true\n"
            .to_owned(),
    };
    out.push_str(&rules);
    out
}

fn github_rules(repositories: &[String]) -> String {
    let names: Vec<String> = repositories
        .iter()
        .map(|r| serde_json::Value::from(r.as_str()).to_string())
        .collect();
    let names = match names.is_empty() {
        true => "\"REPLACE-owner/REPLACE-name\"".to_owned(),
        false => names.join(", "),
    };
    format!(
        "\n# Names can be registered again after a rename or deletion: pin the ids too.\n\
         # `jwtctl policy pin TOKEN` prints these rules from a sample token.\n\
         [[issuer.rule]]\nclaim = \"repository_id\"\none_of = [\"REPLACE-repository-id\"]\n\n\
         [[issuer.rule]]\nclaim = \"repository_owner_id\"\neq = \"REPLACE-owner-id\"\n\n\
         [[issuer.rule]]\nclaim = \"repository\"\none_of = [{names}]\n\n\
         # Pushes and manual runs only: not pull requests (a fork's code runs in those).\n\
         [[issuer.rule]]\nclaim = \"event_name\"\none_of = [\"push\", \"workflow_dispatch\"]\n\n\
         # The deployment environment (protect it in the repository's settings).\n\
         [[issuer.rule]]\nclaim = \"environment\"\neq = \"production\"\n\n\
         # The main branch, or a release tag.\n\
         [[issuer.rule]]\nany = [\n  {{ claim = \"ref\", eq = \"refs/heads/main\" }},\n  \
         {{ claim = \"ref\", regex = 'refs/tags/v[0-9]+\\.[0-9]+\\.[0-9]+' }},\n]\n"
    )
}

fn gitlab_rules(repositories: &[String]) -> String {
    let names: Vec<String> = repositories
        .iter()
        .map(|r| serde_json::Value::from(r.as_str()).to_string())
        .collect();
    let names = match names.is_empty() {
        true => "\"REPLACE-group/REPLACE-project\"".to_owned(),
        false => names.join(", "),
    };
    format!(
        "\n# Paths can be taken again after a rename or deletion: pin the ids too.\n\
         [[issuer.rule]]\nclaim = \"project_id\"\none_of = [\"REPLACE-project-id\"]\n\n\
         [[issuer.rule]]\nclaim = \"namespace_id\"\neq = \"REPLACE-namespace-id\"\n\n\
         [[issuer.rule]]\nclaim = \"project_path\"\none_of = [{names}]\n\n\
         # Protected branches and tags only.\n\
         [[issuer.rule]]\nclaim = \"ref_protected\"\neq = \"true\"\n\n\
         [[issuer.rule]]\nclaim = \"environment\"\neq = \"production\"\n\n\
         [[issuer.rule]]\nany = [\n  {{ claim = \"ref_path\", eq = \"refs/heads/main\" }},\n  \
         {{ claim = \"ref_path\", glob = \"refs/tags/v*\" }},\n]\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_policy_that_checks() {
        for preset in Preset::ALL {
            let text = template(preset, preset.issuer(), None, &["acme/deploy".into()]);
            let policy =
                crate::policy::parse(&text).unwrap_or_else(|e| panic!("{preset:?}: {e}\n{text}"));
            let findings = crate::policy::warnings(&policy);
            assert!(
                findings.iter().all(|f| !f.error),
                "{preset:?}: {findings:?}"
            );
        }
    }
}
