//! What jwtctl knows of the CI providers' identity tokens: each issuer's URL and the claims its
//! tokens carry, as the providers document them.

use crate::token::ClaimPath;

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

    /// The other exact `iss` values the provider writes for the issuer at `url`: Google's ID
    /// tokens carry `https://accounts.google.com` or `accounts.google.com`.
    pub fn aliases(self, url: &str) -> &'static [&'static str] {
        match self {
            Preset::Google if url == Preset::Google.issuer() => &["accounts.google.com"],
            _ => &[],
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

    /// The members of the provider's object claims, as paths (a claim not listed here is a
    /// string, number, boolean or array: no path leads into it).
    pub fn nested(self) -> &'static [&'static [&'static str]] {
        match self {
            // kubernetes.io: "Service account tokens": the projected token's claims.
            Preset::Kubernetes => &[
                &["kubernetes.io", "namespace"],
                &["kubernetes.io", "serviceaccount", "name"],
                &["kubernetes.io", "serviceaccount", "uid"],
                &["kubernetes.io", "pod", "name"],
                &["kubernetes.io", "pod", "uid"],
                &["kubernetes.io", "node", "name"],
                &["kubernetes.io", "node", "uid"],
                &["kubernetes.io", "secret", "name"],
                &["kubernetes.io", "secret", "uid"],
                &["kubernetes.io", "warnafter"],
            ],
            // cloud.google.com: "Verifying the identity of instances" (format=full).
            Preset::Google => &[
                &["google", "compute_engine", "instance_creation_timestamp"],
                &["google", "compute_engine", "instance_id"],
                &["google", "compute_engine", "instance_name"],
                &["google", "compute_engine", "license_id"],
                &["google", "compute_engine", "project_id"],
                &["google", "compute_engine", "project_number"],
                &["google", "compute_engine", "zone"],
            ],
            _ => &[],
        }
    }

    /// Whether the provider writes `claim` as a string (or an array of strings) only: every
    /// claim of its own in GitHub's tokens, and GitLab's but `runner_id` (an integer) and
    /// `user_identities` (an array of objects), ids and booleans included
    /// (`"repository_id": "2002"`, `"ref_protected": "true"`).
    pub fn writes_strings(self, claim: &ClaimPath) -> bool {
        matches!(self, Preset::GithubActions | Preset::Gitlab)
            && claim.is_top()
            && self.claims().contains(&claim.top())
            && !self.not_strings().contains(&claim.top())
    }

    /// Whether the provider writes `claim` as an integer only: GitLab's `runner_id` (its docs'
    /// example and its tokens: `"runner_id": 12270835`).
    pub fn writes_integers(self, claim: &ClaimPath) -> bool {
        self == Preset::Gitlab && claim.is_top() && claim.top() == "runner_id"
    }

    /// The provider's own claims that are not strings, among those `claims` lists.
    fn not_strings(self) -> &'static [&'static str] {
        match self {
            // docs.gitlab.com, "ID token authentication": runner_id is an integer and
            // user_identities an array of {"provider", "extern_uid"} objects.
            Preset::Gitlab => &["runner_id", "user_identities"],
            _ => &[],
        }
    }

    /// Whether the provider's tokens can carry `claim`: a top-level claim it names, or a path
    /// that leads to (or into) a member of one of its object claims.
    pub fn knows(self, claim: &ClaimPath) -> bool {
        if claim.is_top() {
            let name = claim.top();
            return REGISTERED.contains(&name) || self.claims().contains(&name);
        }
        self.nested().iter().any(|known| {
            known.len() >= claim.keys().len()
                && claim.keys().iter().zip(known.iter()).all(|(a, b)| a == b)
        })
    }

    /// A claim this provider names that re-registration can give to someone else, and the
    /// id claim that pins it (GitHub: a renamed or deleted repository's name can be taken;
    /// Kubernetes: a deleted service account can be created again under its name).
    pub fn pins(self) -> &'static [(&'static [&'static str], &'static [&'static str])] {
        match self {
            Preset::GithubActions => &[
                (&["repository"], &["repository_id"]),
                (&["repository_owner"], &["repository_owner_id"]),
            ],
            Preset::Gitlab => &[
                (&["project_path"], &["project_id"]),
                (&["namespace_path"], &["namespace_id"]),
            ],
            Preset::Kubernetes => &[
                (&["sub"], K8S_UID),
                (&["kubernetes.io", "serviceaccount", "name"], K8S_UID),
            ],
            _ => &[],
        }
    }
}

/// The service account's uid: a new one for every account created, whatever its name.
const K8S_UID: &[&str] = &["kubernetes.io", "serviceaccount", "uid"];

/// A path as a policy writes it: `"name"`, or `["a", "b"]`.
pub fn path_toml(keys: &[&str]) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    match keys {
        [one] => q(one),
        _ => format!(
            "[{}]",
            keys.iter().map(|k| q(k)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The id rules (TOML) for the names `claims` carries, each commented with the name it pins
/// and each id once: what `policy pin` prints.
pub fn pin_rules(claims: &crate::token::Claims) -> String {
    let path = |keys: &[&str]| {
        ClaimPath::nested(keys.iter().map(|k| (*k).to_owned()).collect())
            .unwrap_or_else(|_| ClaimPath::name(""))
    };
    let mut out = String::new();
    let mut done: Vec<&[&str]> = Vec::new();
    for preset in [Preset::GithubActions, Preset::Gitlab, Preset::Kubernetes] {
        for (name, id) in preset.pins() {
            let (Some(name_value), Some(id_value)) = (
                path(name).find(claims).and_then(|v| v.as_str()),
                path(id).find(claims),
            ) else {
                continue;
            };
            // An id the token gives as an array or object pins nothing (a rule on it never
            // holds); one already printed is not printed again.
            if done.contains(id) || !(id_value.is_string() || id_value.is_number()) {
                continue;
            }
            done.push(id);
            out.push_str(&format!(
                "[[issuer.rule]] # {} {}\nclaim = {}\neq = {id_value}\n\n",
                comment(&path(name).record()),
                comment(&serde_json::Value::from(name_value).to_string()),
                path_toml(id),
            ));
        }
    }
    out.truncate(out.trim_end().len());
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Text from a token made safe for a TOML comment: one line, no control characters.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
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
         {aliases}preset = \"{name}\"\n\
         # The keys: OpenID Connect discovery at the url (or jwks_url = \"...\", jwks_file = \"...\").\n\
         oidc = true\n\
         # The audience your tokens are minted for.\n\
         audiences = [{aud}]\n\
         max_age = \"15m\"\n",
        name = preset.name(),
        url = q(issuer),
        aliases = match preset.aliases(issuer) {
            [] => String::new(),
            names => format!(
                "# The other exact iss the provider writes for this issuer.\naliases = [{}]\n",
                names.iter().map(|n| q(n)).collect::<Vec<_>>().join(", ")
            ),
        },
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
             [[issuer.rule]]\nclaim = \"sub\"\neq = \"system:serviceaccount:REPLACE-namespace:REPLACE-name\"\n\n\
             # And that account, not one created again under its name after a deletion: its uid\n\
             # (`jwtctl policy pin TOKEN` prints this rule from a sample token).\n\
             [[issuer.rule]]\nclaim = [\"kubernetes.io\", \"serviceaccount\", \"uid\"]\n\
             eq = \"REPLACE-serviceaccount-uid\"\n"
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
    fn path(keys: &[&str]) -> ClaimPath {
        ClaimPath::nested(keys.iter().map(|k| (*k).to_owned()).collect()).unwrap()
    }

    #[test]
    fn presets_know_the_paths_into_their_object_claims() {
        let k8s = Preset::Kubernetes;
        assert!(k8s.knows(&path(&["kubernetes.io"])));
        assert!(k8s.knows(&path(&["kubernetes.io", "serviceaccount"])));
        assert!(k8s.knows(&path(&["kubernetes.io", "serviceaccount", "uid"])));
        assert!(!k8s.knows(&path(&["kubernetes.io", "serviceaccount", "id"])));
        assert!(!k8s.knows(&path(&["kubernetes.io", "serviceaccount", "uid", "x"])));
        assert!(!k8s.knows(&ClaimPath::name("kubernetes.io.serviceaccount.uid")));
        assert!(
            !k8s.knows(&path(&["sub", "x"])),
            "no path leads into a string"
        );
        let gh = Preset::GithubActions;
        assert!(!gh.knows(&path(&["repository", "id"])));
        assert!(Preset::Google.knows(&path(&["google", "compute_engine", "project_id"])));
    }

    #[test]
    fn pin_prints_each_id_rule_once_from_the_names_a_token_carries() {
        let k8s = serde_json::json!({
            "sub": "system:serviceaccount:prod:deployer",
            "kubernetes.io": {"namespace": "prod",
                "serviceaccount": {"name": "deployer", "uid": "1a2b"}}
        });
        let rules = pin_rules(k8s.as_object().unwrap());
        assert_eq!(
            rules,
            "[[issuer.rule]] # sub \"system:serviceaccount:prod:deployer\"\n\
             claim = [\"kubernetes.io\", \"serviceaccount\", \"uid\"]\neq = \"1a2b\"\n"
        );
        let text = format!(
            "[[issuer]]\nurl = \"https://c.example\"\npreset = \"kubernetes\"\noidc = true\n\
             audiences = [\"v\"]\n{rules}"
        );
        let policy = crate::policy::parse(&text).unwrap();
        assert_eq!(policy.issuers[0].rule.leaves().len(), 1);
        // A uid given as an array, or a name hiding a newline, pins nothing and breaks nothing.
        let hostile = serde_json::json!({
            "sub": "system:serviceaccount:prod:x\n[[issuer.rule]]\nclaim = \"sub\"\nglob = \"*\"",
            "kubernetes.io": {"serviceaccount": {"name": "x", "uid": "u"}}
        });
        let rules = pin_rules(hostile.as_object().unwrap());
        assert_eq!(rules.lines().count(), 3, "{rules}");
        let array =
            serde_json::json!({"sub": "s", "kubernetes.io": {"serviceaccount": {"uid": ["u"]}}});
        assert_eq!(pin_rules(array.as_object().unwrap()), "");
    }
}
