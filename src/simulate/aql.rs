//! The subset of AQL that rule filters and saved-search WHERE clauses use, parsed and
//! evaluated against a simulated event: comparisons, `IN`, `LIKE`/`ILIKE`, `IS [NOT]
//! NULL`, `AND`/`OR`/`NOT`, parentheses, `+ - * /`, `LOWER`, `UPPER`, `QIDNAME(qid)`,
//! `LOGSOURCETYPEID(logsourceid)`, `NOW()`, quoted property names. Anything else is
//! refused as "not simulated" with the construct named, never silently passed.

use std::fmt;

/// A token with its byte offset in the query.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// `"Property Name"`
    Quoted(String),
    /// `'text'`
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AqlError {
    pub at: usize,
    pub message: String,
    /// The query uses something outside the simulated subset (not a syntax error).
    pub unsupported: bool,
}

impl fmt::Display for AqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.at + 1)
    }
}

fn syntax(at: usize, m: impl Into<String>) -> AqlError {
    AqlError {
        at,
        message: m.into(),
        unsupported: false,
    }
}
fn unsupported(at: usize, m: impl Into<String>) -> AqlError {
    AqlError {
        at,
        message: m.into(),
        unsupported: true,
    }
}

pub fn tokenize(q: &str) -> Result<Vec<(Tok, usize)>, AqlError> {
    let b = q.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                out.push((Tok::LParen, i));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, i));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, i));
                i += 1;
            }
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                let mut s = String::new();
                loop {
                    if i >= b.len() {
                        return Err(syntax(start, "unterminated quote"));
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            s.push(c as char);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    let ch = q[i..].chars().next().unwrap_or('\u{fffd}');
                    s.push(ch);
                    i += ch.len_utf8();
                }
                out.push((
                    if c == b'\'' {
                        Tok::Str(s)
                    } else {
                        Tok::Quoted(s)
                    },
                    start,
                ));
            }
            b'0'..=b'9' | b'.' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let n: f64 = q[start..i]
                    .parse()
                    .map_err(|_| syntax(start, "not a number"))?;
                out.push((Tok::Num(n), start));
            }
            b'=' => {
                out.push((Tok::Op("="), i));
                i += 1;
            }
            b'<' | b'>' | b'!' => {
                let start = i;
                let two = &q[i..(i + 2).min(q.len())];
                let op = match two {
                    "<=" => "<=",
                    ">=" => ">=",
                    "<>" => "<>",
                    "!=" => "<>",
                    _ if c == b'<' => "<",
                    _ if c == b'>' => ">",
                    _ => return Err(syntax(i, "unexpected '!'")),
                };
                i += op.len().max(if two == "!=" { 2 } else { 0 });
                out.push((Tok::Op(op), start));
            }
            b'+' | b'-' | b'*' | b'/' => {
                out.push((
                    Tok::Op(match c {
                        b'+' => "+",
                        b'-' => "-",
                        b'*' => "*",
                        _ => "/",
                    }),
                    i,
                ));
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                out.push((Tok::Ident(q[start..i].to_string()), start));
            }
            _ => {
                let ch = q[i..].chars().next().unwrap_or('?');
                return Err(syntax(i, format!("unexpected character '{ch}'")));
            }
        }
    }
    Ok(out)
}

/// An expression of the subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Str(String),
    Num(f64),
    /// A bare field: `qid`, `username`, `sourceip`, `starttime`, …
    Field(String),
    /// A quoted custom property.
    Property(String),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    Arith(&'static str, Box<Expr>, Box<Expr>),
    Like {
        value: Box<Expr>,
        pattern: Box<Expr>,
        insensitive: bool,
        negated: bool,
    },
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
}

const FUNCTIONS: &[&str] = &["LOWER", "UPPER", "QIDNAME", "LOGSOURCETYPEID", "NOW"];
/// Words that end a WHERE clause in a full query.
const CLAUSE_END: &[&str] = &[
    "ORDER",
    "GROUP",
    "HAVING",
    "LIMIT",
    "LAST",
    "START",
    "STOP",
    "PARAMETERS",
];

struct Parser<'t> {
    toks: &'t [(Tok, usize)],
    i: usize,
    end: usize,
}

fn kw(t: &Tok, w: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(w))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(_, a)| *a)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|(t, _)| t.clone());
        self.i += 1;
        t
    }
    fn eat_kw(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| kw(t, w)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.and()?;
        while self.eat_kw("OR") {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.not()?;
        while self.eat_kw("AND") {
            l = Expr::And(Box::new(l), Box::new(self.not()?));
        }
        Ok(l)
    }
    fn not(&mut self) -> Result<Expr, AqlError> {
        if self.eat_kw("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.predicate()
    }
    fn predicate(&mut self) -> Result<Expr, AqlError> {
        let l = self.sum()?;
        let at = self.at();
        let negated = self.eat_kw("NOT");
        match self.peek().cloned() {
            Some(Tok::Op(op @ ("=" | "<>" | "<" | "<=" | ">" | ">="))) if !negated => {
                self.i += 1;
                Ok(Expr::Cmp(op, Box::new(l), Box::new(self.sum()?)))
            }
            Some(t) if kw(&t, "LIKE") || kw(&t, "ILIKE") => {
                self.i += 1;
                Ok(Expr::Like {
                    value: Box::new(l),
                    pattern: Box::new(self.sum()?),
                    insensitive: kw(&t, "ILIKE"),
                    negated,
                })
            }
            Some(t) if kw(&t, "IN") => {
                self.i += 1;
                if self.next() != Some(Tok::LParen) {
                    return Err(syntax(self.at(), "expected '(' after IN"));
                }
                let mut list = vec![self.sum()?];
                loop {
                    match self.next() {
                        Some(Tok::Comma) => list.push(self.sum()?),
                        Some(Tok::RParen) => break,
                        _ => return Err(syntax(self.at(), "expected ',' or ')' in the IN list")),
                    }
                }
                Ok(Expr::In {
                    value: Box::new(l),
                    list,
                    negated,
                })
            }
            Some(t) if kw(&t, "IS") && !negated => {
                self.i += 1;
                let neg = self.eat_kw("NOT");
                if !self.eat_kw("NULL") {
                    return Err(syntax(self.at(), "expected NULL after IS"));
                }
                Ok(Expr::IsNull {
                    value: Box::new(l),
                    negated: neg,
                })
            }
            Some(t)
                if kw(&t, "BETWEEN")
                    || kw(&t, "MATCHES")
                    || kw(&t, "IMATCHES")
                    || kw(&t, "INCIDR") =>
            {
                Err(unsupported(
                    self.at(),
                    format!("{} is not simulated", t_word(&t)),
                ))
            }
            _ if negated => Err(syntax(at, "NOT must be followed by LIKE, ILIKE or IN here")),
            _ => Ok(l),
        }
    }
    fn sum(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.product()?;
        while let Some(Tok::Op(op @ ("+" | "-"))) = self.peek().cloned() {
            self.i += 1;
            l = Expr::Arith(op, Box::new(l), Box::new(self.product()?));
        }
        Ok(l)
    }
    fn product(&mut self) -> Result<Expr, AqlError> {
        let mut l = self.atom()?;
        while let Some(Tok::Op(op @ ("*" | "/"))) = self.peek().cloned() {
            self.i += 1;
            l = Expr::Arith(op, Box::new(l), Box::new(self.atom()?));
        }
        Ok(l)
    }
    fn atom(&mut self) -> Result<Expr, AqlError> {
        let at = self.at();
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                if self.next() != Some(Tok::RParen) {
                    return Err(syntax(self.at(), "expected ')'"));
                }
                Ok(e)
            }
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Num(n)) => Ok(Expr::Num(n)),
            Some(Tok::Op("-")) => Ok(Expr::Arith(
                "-",
                Box::new(Expr::Num(0.0)),
                Box::new(self.atom()?),
            )),
            Some(Tok::Quoted(p)) => Ok(Expr::Property(p)),
            Some(Tok::Ident(w)) => {
                if w.eq_ignore_ascii_case("NULL") {
                    return Ok(Expr::Null);
                }
                if self.peek() == Some(&Tok::LParen) {
                    let name = w.to_ascii_uppercase();
                    if !FUNCTIONS.contains(&name.as_str()) {
                        return Err(unsupported(
                            at,
                            format!("the function {w}() is not simulated"),
                        ));
                    }
                    self.i += 1;
                    let mut args = Vec::new();
                    if self.peek() == Some(&Tok::RParen) {
                        self.i += 1;
                    } else {
                        loop {
                            args.push(self.or()?);
                            match self.next() {
                                Some(Tok::Comma) => {}
                                Some(Tok::RParen) => break,
                                _ => {
                                    return Err(syntax(
                                        self.at(),
                                        format!("expected ',' or ')' in {w}()"),
                                    ));
                                }
                            }
                        }
                    }
                    return Ok(Expr::Call(name, args));
                }
                if [
                    "AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "SELECT", "FROM", "WHERE",
                ]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(syntax(at, format!("unexpected {w}")));
                }
                Ok(Expr::Field(w.to_ascii_lowercase()))
            }
            Some(Tok::Op(op)) => Err(syntax(at, format!("unexpected '{op}'"))),
            Some(Tok::RParen) => Err(syntax(at, "unexpected ')'")),
            Some(Tok::Comma) => Err(syntax(at, "unexpected ','")),
            None => Err(syntax(at, "the condition ends too early")),
        }
    }
}

fn t_word(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.to_ascii_uppercase(),
        other => format!("{other:?}"),
    }
}

/// Parse a condition (a rule's AQL filter).
pub fn parse_condition(q: &str) -> Result<Expr, AqlError> {
    let toks = tokenize(q)?;
    parse_tokens(&toks, q.len())
}

fn parse_tokens(toks: &[(Tok, usize)], end: usize) -> Result<Expr, AqlError> {
    let mut p = Parser { toks, i: 0, end };
    let e = p.or()?;
    if p.i < toks.len() {
        let at = p.at();
        let t = p.peek().cloned();
        return Err(match t {
            Some(Tok::Ident(w)) if CLAUSE_END.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                syntax(at, format!("{w} cannot follow a condition here"))
            }
            _ => syntax(at, "unexpected text after the condition"),
        });
    }
    Ok(e)
}

/// The WHERE condition of a full `SELECT … FROM events WHERE … [ORDER BY …] [LIMIT …]`
/// query; `Ok(None)` when the query has no WHERE.
pub fn parse_query_where(q: &str) -> Result<Option<Expr>, AqlError> {
    let toks = tokenize(q)?;
    if !toks.first().is_some_and(|(t, _)| kw(t, "SELECT")) {
        return Err(syntax(0, "a saved search starts with SELECT"));
    }
    // Find FROM and WHERE at depth 0.
    let mut depth = 0i32;
    let mut from = None;
    let mut where_at = None;
    let mut end = toks.len();
    for (i, (t, _)) in toks.iter().enumerate() {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ if depth == 0 => {
                if from.is_none() && kw(t, "FROM") {
                    from = Some(i);
                } else if from.is_some() && where_at.is_none() && kw(t, "WHERE") {
                    where_at = Some(i);
                } else if where_at.is_some() && CLAUSE_END.iter().any(|k| kw(t, k)) {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(f) = from else {
        return Err(syntax(q.len(), "the query has no FROM"));
    };
    match toks.get(f + 1) {
        Some((t, _)) if kw(t, "events") => {}
        Some((t, at)) => {
            return Err(unsupported(
                *at,
                format!("FROM {} is not simulated (only FROM events)", t_word(t)),
            ));
        }
        None => return Err(syntax(q.len(), "FROM needs a table")),
    }
    let Some(w) = where_at else { return Ok(None) };
    let end_at = toks.get(end).map_or(q.len(), |(_, a)| *a);
    parse_tokens(&toks[w + 1..end], end_at).map(Some)
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Num(f64),
}

/// What the evaluator asks of the simulated event.
pub trait Event {
    /// A bare field (`qid`, `username`, …); `None` when the field is not simulated.
    fn field(&self, name: &str) -> Option<Value>;
    /// A custom property's value (NULL when absent).
    fn property(&self, name: &str) -> Value;
    fn qid_name(&self, qid: &Value) -> Value;
    fn log_source_type(&self) -> Value;
    fn now(&self) -> Value;
}

/// Evaluate a condition: `Ok(Some(b))`, `Ok(None)` for SQL's unknown (NULL), or an error
/// naming what is not simulated.
pub fn eval_condition(e: &Expr, ev: &dyn Event) -> Result<Option<bool>, AqlError> {
    Ok(match e {
        Expr::Not(x) => eval_condition(x, ev)?.map(|b| !b),
        Expr::And(a, b) => match (eval_condition(a, ev)?, eval_condition(b, ev)?) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Or(a, b) => match (eval_condition(a, ev)?, eval_condition(b, ev)?) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::Cmp(op, a, b) => compare(op, &eval(a, ev)?, &eval(b, ev)?),
        Expr::Like {
            value,
            pattern,
            insensitive,
            negated,
        } => match (eval(value, ev)?, eval(pattern, ev)?) {
            (Value::Null, _) | (_, Value::Null) => None,
            (v, p) => Some(like(&as_text(&v), &as_text(&p), *insensitive) != *negated),
        },
        Expr::In {
            value,
            list,
            negated,
        } => {
            let v = eval(value, ev)?;
            if v == Value::Null {
                None
            } else {
                let mut found = false;
                let mut unknown = false;
                for item in list {
                    match compare("=", &v, &eval(item, ev)?) {
                        Some(true) => found = true,
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if found {
                    Some(!negated)
                } else if unknown {
                    None
                } else {
                    Some(*negated)
                }
            }
        }
        Expr::IsNull { value, negated } => Some((eval(value, ev)? == Value::Null) != *negated),
        other => match eval(other, ev)? {
            Value::Null => None,
            Value::Num(n) => Some(n != 0.0),
            Value::Str(s) => return Err(unsupported(0, format!("'{s}' is not a condition"))),
        },
    })
}

fn eval(e: &Expr, ev: &dyn Event) -> Result<Value, AqlError> {
    Ok(match e {
        Expr::Null => Value::Null,
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Num(n) => Value::Num(*n),
        Expr::Property(p) => ev.property(p),
        Expr::Field(f) => ev
            .field(f)
            .ok_or_else(|| unsupported(0, format!("the field {f} is not simulated")))?,
        Expr::Call(name, args) => {
            let arg = |i: usize| -> Result<Value, AqlError> {
                match args.get(i) {
                    Some(a) => eval(a, ev),
                    None => Err(syntax(0, format!("{name}() needs an argument"))),
                }
            };
            match name.as_str() {
                "LOWER" => map_text(arg(0)?, |s| s.to_lowercase()),
                "UPPER" => map_text(arg(0)?, |s| s.to_uppercase()),
                "QIDNAME" => ev.qid_name(&arg(0)?),
                "LOGSOURCETYPEID" => {
                    if !matches!(args.first(), Some(Expr::Field(f)) if f == "logsourceid") {
                        return Err(unsupported(
                            0,
                            "LOGSOURCETYPEID() is simulated for logsourceid only",
                        ));
                    }
                    ev.log_source_type()
                }
                "NOW" => ev.now(),
                other => {
                    return Err(unsupported(
                        0,
                        format!("the function {other}() is not simulated"),
                    ));
                }
            }
        }
        Expr::Arith(op, a, b) => match (num(&eval(a, ev)?), num(&eval(b, ev)?)) {
            (Some(x), Some(y)) => Value::Num(match *op {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                _ if y == 0.0 => return Ok(Value::Null),
                _ => x / y,
            }),
            _ => Value::Null,
        },
        cond => match eval_condition(cond, ev)? {
            None => Value::Null,
            Some(b) => Value::Num(if b { 1.0 } else { 0.0 }),
        },
    })
}

fn map_text(v: Value, f: impl Fn(&str) -> String) -> Value {
    match v {
        Value::Null => Value::Null,
        other => Value::Str(f(&as_text(&other))),
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Str(s) => s.clone(),
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Value::Num(n) => n.to_string(),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Num(n) => Some(*n),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Null => None,
    }
}

fn compare(op: &str, a: &Value, b: &Value) -> Option<bool> {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::Null, _) | (_, Value::Null) => return None,
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y)?,
            _ => as_text(a).cmp(&as_text(b)),
        },
    };
    Some(match op {
        "=" => ord == Ordering::Equal,
        "<>" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

/// SQL LIKE: `%` any run, `_` one character; no escape character.
pub fn like(text: &str, pattern: &str, insensitive: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if insensitive {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    // Iterative wildcard matching with backtracking on the last '%'.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// What a lint needs to know of an expression tree.
pub fn walk<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr)) {
    f(e);
    match e {
        Expr::Call(_, args) => args.iter().for_each(|a| walk(a, f)),
        Expr::Not(x) => walk(x, f),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::Arith(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::Like { value, pattern, .. } => {
            walk(value, f);
            walk(pattern, f);
        }
        Expr::In { value, list, .. } => {
            walk(value, f);
            list.iter().for_each(|a| walk(a, f));
        }
        Expr::IsNull { value, .. } => walk(value, f),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Ev {
        props: BTreeMap<&'static str, &'static str>,
    }
    impl Event for Ev {
        fn field(&self, name: &str) -> Option<Value> {
            match name {
                "qid" => Some(Value::Num(2000004.0)),
                "username" => Some(Value::Str("adele@contoso.com".into())),
                "starttime" => Some(Value::Num(1_000_000.0)),
                _ => None,
            }
        }
        fn property(&self, name: &str) -> Value {
            self.props
                .get(name)
                .map_or(Value::Null, |v| Value::Str(v.to_string()))
        }
        fn qid_name(&self, _: &Value) -> Value {
            Value::Str("Create application password for user".into())
        }
        fn log_source_type(&self) -> Value {
            Value::Num(445.0)
        }
        fn now(&self) -> Value {
            Value::Num(1_000_000.0)
        }
    }

    fn check(q: &str, props: &[(&'static str, &'static str)]) -> Option<bool> {
        let ev = Ev {
            props: props.iter().copied().collect(),
        };
        eval_condition(
            &parse_condition(q).unwrap_or_else(|e| panic!("{q}: {e}")),
            &ev,
        )
        .unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn the_subset_evaluates() {
        let r = "\"Result\" = 'success' OR \"Result\" IS NULL OR \"Result\" = ''";
        assert_eq!(check(r, &[("Result", "success")]), Some(true));
        assert_eq!(check(r, &[]), Some(true));
        assert_eq!(check(r, &[("Result", "failure")]), Some(false));
        assert_eq!(check("qid IN (2000000, 2000004)", &[]), Some(true));
        assert_eq!(check("qid NOT IN (1, 2)", &[]), Some(true));
        assert_eq!(
            check("LOWER(QIDNAME(qid)) LIKE '%application password%'", &[]),
            Some(true)
        );
        assert_eq!(check("QIDNAME(qid) LIKE 'create%'", &[]), Some(false));
        assert_eq!(check("QIDNAME(qid) ILIKE 'create%'", &[]), Some(true));
        assert_eq!(
            check("UPPER(username) = 'ADELE@CONTOSO.COM'", &[]),
            Some(true)
        );
        assert_eq!(
            check("LOGSOURCETYPEID(logsourceid) = 445 AND NOT (qid = 1)", &[]),
            Some(true)
        );
        assert_eq!(check("starttime > NOW() - 86400000", &[]), Some(true));
        assert_eq!(check("\"Missing\" = 'x'", &[]), None);
        assert_eq!(check("NOT \"Missing\" = 'x'", &[]), None);
        assert_eq!(
            check(
                "\"TargetObjectName\" LIKE 'b_lling%'",
                &[("TargetObjectName", "billing-test")]
            ),
            Some(true)
        );
        assert_eq!(
            check(
                "\"TargetObjectName\" IS NOT NULL",
                &[("TargetObjectName", "x")]
            ),
            Some(true)
        );
    }

    #[test]
    fn full_queries_yield_their_where() {
        let q = "SELECT QIDNAME(qid) AS n, \"Result\" FROM events WHERE LOGSOURCETYPEID(logsourceid) = 445 AND (\"Result\" = 'success') ORDER BY starttime DESC LIMIT 1000";
        let w = parse_query_where(q).expect("parses").expect("where");
        let ev = Ev {
            props: [("Result", "success")].into_iter().collect(),
        };
        assert_eq!(eval_condition(&w, &ev), Ok(Some(true)));
        assert!(
            parse_query_where("SELECT * FROM flows WHERE x = 1")
                .expect_err("flows")
                .unsupported
        );
        assert!(
            parse_query_where("SELECT * FROM events")
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn outside_the_subset_is_not_simulated() {
        let e = parse_condition("sourceip INCIDR '10.0.0.0/8'");
        assert!(e.is_err());
        let e = parse_condition("REFERENCESETCONTAINS('x', username)").expect_err("unsupported");
        assert!(e.unsupported, "{e}");
        let ev = Ev {
            props: BTreeMap::new(),
        };
        let e = eval_condition(
            &parse_condition("destinationport = 22").expect("parses"),
            &ev,
        )
        .expect_err("field");
        assert!(
            e.unsupported && e.message.contains("destinationport"),
            "{e}"
        );
        assert!(!parse_condition("a = ").expect_err("syntax").unsupported);
        assert!(parse_condition("(a = 1").is_err());
        assert!(parse_condition("'unterminated").is_err());
    }

    #[test]
    fn like_matches_sql_wildcards() {
        assert!(like(
            "Update application – Certificates",
            "%certificates%",
            true
        ));
        assert!(!like("abc", "a_", false));
        assert!(like("abc", "a_c", false));
        assert!(like("", "%", false));
        assert!(like("aaa", "%a%a%a%", false));
        assert!(!like("ab", "%a%a%", false));
    }
}
