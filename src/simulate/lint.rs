//! Lints that fall out of the AQL evaluator: a query that does not parse, quoted
//! properties nobody declared, `QIDNAME(qid) LIKE` scans over the pack's own events, and
//! LIKE patterns that no event name can match.

use super::aql::{self, Expr, Tok};

/// Fields QRadar knows without a custom property (the ones people quote by habit).
const KNOWN_FIELDS: &[&str] = &[
    "qid",
    "username",
    "sourceip",
    "destinationip",
    "sourceport",
    "destinationport",
    "starttime",
    "endtime",
    "devicetime",
    "logsourceid",
    "category",
    "highlevelcategory",
    "magnitude",
    "severity",
    "credibility",
    "relevance",
    "eventcount",
    "protocolid",
    "payload",
    "utf8(payload)",
    "eventdirection",
    "domainid",
    "identityusername",
    "identityhostname",
    "sourcemac",
    "destinationmac",
    "hostname",
];

/// One lint result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lint {
    pub code: &'static str,
    pub warning: bool,
    pub message: String,
    pub help: String,
}

/// Lint an AQL text (`full`: a whole SELECT; else a WHERE condition) against the pack's
/// property names and event (QID) names.
pub fn lint(text: &str, full: bool, properties: &[String], event_names: &[String]) -> Vec<Lint> {
    let mut out = Vec::new();
    let parsed = if full {
        aql::parse_query_where(text)
    } else {
        aql::parse_condition(text).map(Some)
    };
    match &parsed {
        Err(e) if !e.unsupported => out.push(Lint {
            code: "PK080",
            warning: true,
            message: format!("the AQL does not parse for qrpack: {e}"),
            help: "check the query; if QRadar accepts it, it uses syntax qrpack does not read (its tests cannot simulate it)".into(),
        }),
        _ => {}
    }
    if let Ok(toks) = aql::tokenize(text) {
        let mut seen = std::collections::BTreeSet::new();
        for (i, (t, _)) in toks.iter().enumerate() {
            // `AS "Column alias"` names an output column, not a property.
            let alias =
                i > 0 && matches!(&toks[i - 1].0, Tok::Ident(w) if w.eq_ignore_ascii_case("AS"));
            if let Tok::Quoted(name) = t
                && !alias
                && !properties.iter().any(|p| p == name)
                && !KNOWN_FIELDS.contains(&name.to_ascii_lowercase().as_str())
                && seen.insert(name.clone())
            {
                out.push(Lint {
                    code: "PK081",
                    warning: true,
                    message: format!("the AQL uses the property \"{name}\", which the pack does not declare"),
                    help: "declare it as a [[property]], or fix the name (property names are case-sensitive)".into(),
                });
            }
        }
    }
    if let Ok(Some(e)) = &parsed {
        aql::walk(e, &mut |x| {
            let Expr::Like {
                value,
                pattern,
                insensitive,
                ..
            } = x
            else {
                return;
            };
            let Expr::Str(p) = pattern.as_ref() else {
                return;
            };
            let (case, inner) = unwrap_case(value);
            if !matches!(inner, Expr::Call(f, _) if f == "QIDNAME") {
                return;
            }
            let names: Vec<String> = event_names
                .iter()
                .map(|n| match case {
                    Some("LOWER") => n.to_lowercase(),
                    Some(_) => n.to_uppercase(),
                    None => n.clone(),
                })
                .collect();
            let hits = names
                .iter()
                .filter(|n| aql::like(n, p, *insensitive))
                .count();
            // The test as written: `LOWER(QIDNAME(qid)) ILIKE`, not always `QIDNAME(qid) LIKE`.
            let subject = match case {
                Some(f) => format!("{f}(QIDNAME(qid))"),
                None => "QIDNAME(qid)".to_string(),
            };
            let op = if *insensitive { "ILIKE" } else { "LIKE" };
            if hits > 0 {
                out.push(Lint {
                    code: "PK082",
                    warning: false,
                    message: format!("{subject} {op} '{p}' matches {hits} of the pack's own events by name"),
                    help: "test `qid IN ({{qids:…}})` instead: QIDs are indexed, a QIDNAME scan is far costlier on a busy QRadar".into(),
                });
            } else if !event_names.is_empty() {
                out.push(Lint {
                    code: "PK083",
                    warning: true,
                    message: format!("{subject} {op} '{p}' matches none of the pack's event names"),
                    help: format!(
                        "check the pattern{}; it can only match QIDs from outside this pack",
                        if case.is_none() && !insensitive {
                            " (LIKE is case-sensitive: use ILIKE or LOWER())"
                        } else {
                            ""
                        }
                    ),
                });
            }
        });
    }
    out
}

fn unwrap_case(e: &Expr) -> (Option<&'static str>, &Expr) {
    match e {
        Expr::Call(f, args) if (f == "LOWER" || f == "UPPER") && args.len() == 1 => {
            (Some(if f == "LOWER" { "LOWER" } else { "UPPER" }), &args[0])
        }
        other => (None, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(q: &str, full: bool) -> Vec<&'static str> {
        let props = vec!["Result".to_string()];
        let names = vec![
            "Add service principal credentials".to_string(),
            "Add owner to application".to_string(),
        ];
        lint(q, full, &props, &names)
            .iter()
            .map(|l| l.code)
            .collect()
    }

    #[test]
    fn column_aliases_are_not_properties() {
        assert!(
            codes(
                "SELECT qid AS \"Event Time\" FROM events WHERE qid = 1",
                true
            )
            .is_empty()
        );
        assert_eq!(
            codes("SELECT \"Nope\" AS \"Event Time\" FROM events", true),
            vec!["PK081"]
        );
    }

    /// The messages quote the test as written (function, LIKE or ILIKE).
    #[test]
    fn messages_quote_the_test_as_written() {
        let names = vec!["Add owner to application".to_string()];
        let msg = |q: &str| {
            lint(q, false, &[], &names)
                .into_iter()
                .map(|l| l.message)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            msg("LOWER(QIDNAME(qid)) ILIKE '%owner%'"),
            vec!["LOWER(QIDNAME(qid)) ILIKE '%owner%' matches 1 of the pack's own events by name"]
        );
        assert_eq!(
            msg("QIDNAME(qid) LIKE '%Owner%'"),
            vec!["QIDNAME(qid) LIKE '%Owner%' matches none of the pack's event names"]
        );
    }

    #[test]
    fn lints() {
        assert!(codes("\"Result\" = 'success' OR \"Result\" IS NULL", false).is_empty());
        assert_eq!(codes("\"Reslt\" = 'x'", false), vec!["PK081"]);
        assert_eq!(
            codes("LOWER(QIDNAME(qid)) LIKE '%owner to application%'", false),
            vec!["PK082"]
        );
        assert_eq!(
            codes("QIDNAME(qid) LIKE '%Owner To%'", false),
            vec!["PK083"]
        );
        assert_eq!(codes("a = ", false), vec!["PK080"]);
        assert!(
            codes(
                "SELECT \"Result\" FROM events WHERE qid IN (1, 2) ORDER BY starttime LIMIT 5",
                true
            )
            .is_empty()
        );
        assert!(
            codes("REFERENCESETCONTAINS('x', username)", false).is_empty(),
            "unsupported is not a lint"
        );
    }
}
