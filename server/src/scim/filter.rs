//! SCIM 2.0 filter parser (RFC 7644 §3.4.2.2).
//!
//! A hand-written recursive-descent parser that turns a `filter` query parameter into a
//! [`Filter`] AST. It never panics, and it bounds its own work: inputs longer than
//! [`MAX_INPUT_LEN`] bytes, nesting deeper than [`MAX_DEPTH`] levels and more than
//! [`MAX_TERMS`] comparisons are rejected with a [`FilterError`].
//!
//! Grammar accepted (RFC 7644 Figure 1, with the leniencies noted):
//!
//! ```text
//! filter    = or
//! or        = and *( "or" and )                 ; keywords are case-insensitive
//! and       = unary *( "and" unary )
//! unary     = "not" [ws] "(" filter ")" / "(" filter ")" / term
//! term      = attrPath "[" valFilter "]" [ "." ATTRNAME op-tail ]
//!           / attrPath op-tail
//! op-tail   = ws "pr" / ws compareOp [ws] compValue
//! compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "ge" / "lt" / "le"
//! compValue = JSON string / JSON number / "true" / "false" / "null"  ; literals case-insensitive
//! attrPath  = [ "urn:" URN-REST ":" ] ATTRNAME [ "." ATTRNAME ]
//! ATTRNAME  = [ "$" ] ALPHA *( ALPHA / DIGIT / "-" / "_" )
//! ```
//!
//! Inside `[...]` attribute paths must be bare sub-attribute names (no URN, no dots) and value
//! filters cannot nest. `attr[f].sub op value` (sent by Microsoft Entra) is not part of the RFC
//! filter grammar; it is accepted and desugared to `attr[f and sub op value]`, which has the
//! same meaning (one element of `attr` must satisfy both).

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Longest filter (or PATCH path) accepted, in bytes.
pub const MAX_INPUT_LEN: usize = 4096;
/// Deepest nesting accepted. Every `(`, every `not` and every `[` opens one level, so
/// `not (x)` uses two.
pub const MAX_DEPTH: usize = 32;
/// Most comparison terms (`attr op value` and `attr pr`, including those inside brackets).
pub const MAX_TERMS: usize = 200;

// ---------------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------------

/// An attribute path: `[urn ":"] attr ["." sub_attr]`.
///
/// The original spelling is kept (for messages and [`Display`](fmt::Display)), but equality
/// and hashing ignore ASCII case, as SCIM attribute names are case-insensitive. Use
/// [`AttrPath::normalized`] or [`AttrPath::key`] for a lowercase form.
#[derive(Debug, Clone)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing colon, e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub urn: Option<String>,
    /// Attribute name, e.g. `name`.
    pub attr: String,
    /// Sub-attribute name, e.g. `familyName`.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A bare attribute name with no URN and no sub-attribute.
    pub fn new(attr: impl Into<String>) -> Self {
        AttrPath {
            urn: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }

    /// Sets the sub-attribute.
    pub fn with_sub_attr(mut self, sub_attr: impl Into<String>) -> Self {
        self.sub_attr = Some(sub_attr.into());
        self
    }

    /// Sets the schema URN prefix (without the trailing colon).
    pub fn with_urn(mut self, urn: impl Into<String>) -> Self {
        self.urn = Some(urn.into());
        self
    }

    /// Parses a standalone attribute path such as `name.familyName` or
    /// `urn:ietf:params:scim:schemas:core:2.0:User:userName` (e.g. for `attributes=` or
    /// `sortBy=`). Surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<AttrPath, FilterError> {
        check_len(input)?;
        let mut p = Parser::new(input);
        p.skip_ws();
        let path = p.parse_attr_path()?;
        p.skip_ws();
        if !p.at_end() {
            return Err(p.expected(p.pos, "expected end of attribute path"));
        }
        Ok(path)
    }

    /// The same path with every part lowercased (ASCII).
    pub fn normalized(&self) -> AttrPath {
        AttrPath {
            urn: self.urn.as_ref().map(|u| u.to_ascii_lowercase()),
            attr: self.attr.to_ascii_lowercase(),
            sub_attr: self.sub_attr.as_ref().map(|s| s.to_ascii_lowercase()),
        }
    }

    /// Lowercase canonical text (`urn:...:attr.sub`), handy as a map key.
    pub fn key(&self) -> String {
        self.normalized().to_string()
    }
}

fn opt_eq_ci(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

impl PartialEq for AttrPath {
    fn eq(&self, other: &Self) -> bool {
        self.attr.eq_ignore_ascii_case(&other.attr)
            && opt_eq_ci(&self.sub_attr, &other.sub_attr)
            && opt_eq_ci(&self.urn, &other.urn)
    }
}

impl Eq for AttrPath {}

fn hash_ci<H: Hasher>(s: Option<&str>, state: &mut H) {
    match s {
        None => state.write_u8(0),
        Some(s) => {
            state.write_u8(1);
            for b in s.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
            state.write_u8(0xff);
        }
    }
}

impl Hash for AttrPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ci(self.urn.as_deref(), state);
        hash_ci(Some(&self.attr), state);
        hash_ci(self.sub_attr.as_deref(), state);
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for AttrPath {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttrPath::parse(s)
    }
}

/// A comparison operator (`pr` is represented by [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The lowercase keyword, e.g. `"eq"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON number, kept as its validated source text so that nothing is lost (large integers,
/// exact decimals). Equality is textual: `1.0` and `1` are different numbers here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// Validates `raw` against the JSON number grammar.
    pub fn new(raw: &str) -> Option<Number> {
        let mut p = Parser::new(raw);
        let n = p.parse_number().ok()?;
        p.at_end().then_some(n)
    }

    /// The number as written, e.g. `-12.50`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when there is no fraction and no exponent.
    pub fn is_integer(&self) -> bool {
        !self.0.contains(['.', 'e', 'E'])
    }

    /// The value as an `i64`, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.parse().ok()
        } else {
            None
        }
    }

    /// The value as an `f64` (possibly rounded; huge exponents become infinite).
    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number(v.to_string())
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A comparison value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Number(v.into())
    }
}

/// Writes `s` as a JSON string literal.
fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write_json_string(f, s),
            Value::Number(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Null => f.write_str("null"),
        }
    }
}

/// A parsed SCIM filter.
///
/// Inside a [`Filter::ValuePath`], the inner filter's paths are bare sub-attribute names
/// relative to `path` (e.g. `type` in `emails[type eq "work"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `path pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// `not (filter)`
    Not(Box<Filter>),
    /// `path[filter]`: some element of the multi-valued `path` matches `filter`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        check_len(input)?;
        Parser::new(input).parse_complete_filter()
    }

    /// The attribute paths the filter reads, in order of first use, without duplicates
    /// (compared case-insensitively). Paths inside a value filter are reported in full:
    /// `emails[type eq "work"]` yields `emails.type`.
    pub fn referenced_attributes(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect_attributes(None, &mut out);
        out
    }

    fn collect_attributes(&self, parent: Option<&AttrPath>, out: &mut Vec<AttrPath>) {
        let mut push = |path: &AttrPath| {
            let full = match parent {
                Some(parent) => AttrPath {
                    urn: parent.urn.clone(),
                    attr: parent.attr.clone(),
                    sub_attr: Some(path.attr.clone()),
                },
                None => path.clone(),
            };
            if !out.contains(&full) {
                out.push(full);
            }
        };
        match self {
            Filter::Compare { path, .. } | Filter::Present(path) => push(path),
            Filter::And(l, r) | Filter::Or(l, r) => {
                l.collect_attributes(parent, out);
                r.collect_attributes(parent, out);
            }
            Filter::Not(inner) => inner.collect_attributes(parent, out),
            Filter::ValuePath { path, filter } => filter.collect_attributes(Some(path), out),
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

/// Canonical form: lowercase keywords and operators, single spaces, JSON-escaped strings and
/// only the parentheses the precedence rules need. Parsing the output gives back an equal
/// [`Filter`].
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                write_operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                write_operand(f, l, false)?;
                f.write_str(" or ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

impl FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a filter was rejected. Every variant maps to SCIM `scimType` `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// The input is longer than `max` bytes.
    TooLong { len: usize, max: usize },
    /// Nesting deeper than `max` levels; `position` is where the level that broke it opens.
    TooDeep { position: usize, max: usize },
    /// More than `max` comparisons; `position` is where the extra one starts.
    TooManyTerms { position: usize, max: usize },
    /// Malformed input at byte offset `position`. `message` says what was expected and
    /// `found` describes what was there instead (`"end of input"`, or the quoted token).
    Syntax {
        position: usize,
        message: String,
        found: Option<String>,
    },
}

impl FilterError {
    /// The SCIM `scimType` for this error (RFC 7644 §3.12).
    pub fn scim_type(&self) -> &'static str {
        "invalidFilter"
    }

    /// Byte offset in the input the error refers to.
    pub fn position(&self) -> usize {
        match self {
            FilterError::TooLong { max, .. } => *max,
            FilterError::TooDeep { position, .. }
            | FilterError::TooManyTerms { position, .. }
            | FilterError::Syntax { position, .. } => *position,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::TooLong { len, max } => {
                write!(f, "input is too long: {len} bytes (the limit is {max})")
            }
            FilterError::TooDeep { position, max } => write!(
                f,
                "nesting is too deep at position {position} (the limit is {max} levels of \
                 parentheses, \"not\" and brackets)"
            ),
            FilterError::TooManyTerms { position, max } => write!(
                f,
                "too many comparisons at position {position} (the limit is {max})"
            ),
            FilterError::Syntax {
                position,
                message,
                found,
            } => {
                write!(f, "{message} at position {position}")?;
                if let Some(found) = found {
                    write!(f, ", found {found}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for FilterError {}

pub(crate) fn check_len(input: &str) -> Result<(), FilterError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(FilterError::TooLong {
            len: input.len(),
            max: MAX_INPUT_LEN,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Characters that make up words: names, URNs, keywords. All ASCII, so byte scans stop on
/// char boundaries.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$' | b'.' | b':')
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$')
}

/// Quotes (and shortens) a piece of input for an error message.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 40;
    if s.len() <= MAX {
        return format!("\"{}\"", s.escape_debug());
    }
    let mut cut = MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("\"{}...\"", s[..cut].escape_debug())
}

/// Shared by the filter and PATCH path parsers. Positions are byte offsets into `src` and
/// are always kept on char boundaries.
pub(crate) struct Parser<'a> {
    src: &'a str,
    pub(crate) pos: usize,
    depth: usize,
    terms: usize,
    in_brackets: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Parser {
            src,
            pos: 0,
            depth: 0,
            terms: 0,
            in_brackets: false,
        }
    }

    fn rest_at(&self, pos: usize) -> &'a str {
        self.src.get(pos..).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.rest_at(self.pos).chars().next()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if !is_ws(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn scan_end(&self, start: usize, pred: fn(u8) -> bool) -> usize {
        let bytes = self.src.as_bytes();
        let mut end = start;
        while end < bytes.len() && pred(bytes[end]) {
            end += 1;
        }
        end
    }

    /// The word (possibly empty) starting at `pos`.
    fn word_at(&self, pos: usize) -> &'a str {
        let end = self.scan_end(pos, is_word_byte);
        self.src.get(pos..end).unwrap_or("")
    }

    /// Describes the token at `pos` for error messages.
    pub(crate) fn found(&self, pos: usize) -> String {
        match self.rest_at(pos).chars().next() {
            None => "end of input".to_string(),
            Some(c) if c.is_ascii() && is_word_byte(c as u8) => quote(self.word_at(pos)),
            Some(c) => quote(c.encode_utf8(&mut [0; 4])),
        }
    }

    /// A syntax error that also reports what was found at `pos`.
    pub(crate) fn expected(&self, pos: usize, message: impl Into<String>) -> FilterError {
        FilterError::Syntax {
            position: pos,
            message: message.into(),
            found: Some(self.found(pos)),
        }
    }

    /// A syntax error whose message says it all.
    fn error_at(&self, pos: usize, message: impl Into<String>) -> FilterError {
        FilterError::Syntax {
            position: pos,
            message: message.into(),
            found: None,
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(FilterError::TooDeep {
                position: at,
                max: MAX_DEPTH,
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn count_term(&mut self, at: usize) -> Result<(), FilterError> {
        if self.terms >= MAX_TERMS {
            return Err(FilterError::TooManyTerms {
                position: at,
                max: MAX_TERMS,
            });
        }
        self.terms += 1;
        Ok(())
    }

    /// Consumes the keyword `kw` (after optional whitespace) if it is the next whole word.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let save = self.pos;
        self.skip_ws();
        let word = self.word_at(self.pos);
        if word.eq_ignore_ascii_case(kw) {
            self.pos += word.len();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn parse_complete_filter(&mut self) -> Result<Filter, FilterError> {
        let filter = self.parse_or()?;
        self.skip_ws();
        if !self.at_end() {
            return Err(self.expected(self.pos, "expected \"and\", \"or\" or end of input"));
        }
        Ok(filter)
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.eat_keyword("or") {
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.eat_keyword("and") {
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('(') {
            return self.parse_group();
        }
        let word = self.word_at(start);
        if word.eq_ignore_ascii_case("not") {
            self.enter(start)?;
            self.pos = start + word.len();
            self.skip_ws();
            if self.peek() != Some('(') {
                return Err(self.expected(self.pos, "expected \"(\" after \"not\""));
            }
            let inner = self.parse_group()?;
            self.leave();
            return Ok(Filter::Not(Box::new(inner)));
        }
        if word.is_empty() || word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or") {
            return Err(self.expected(start, "expected an attribute path, \"not\" or \"(\""));
        }
        self.parse_term()
    }

    /// `"(" filter ")"`, with `pos` at the `(`.
    fn parse_group(&mut self) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let inner = self.parse_or()?;
        self.skip_ws();
        if self.peek() != Some(')') {
            return Err(self.expected(
                self.pos,
                format!("expected \"and\", \"or\" or \")\" to close the \"(\" at position {open}"),
            ));
        }
        self.pos += 1;
        self.leave();
        Ok(inner)
    }

    /// `"[" valFilter "]"`, with `pos` at the `[`.
    pub(crate) fn parse_bracket(&mut self) -> Result<Filter, FilterError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let outer = std::mem::replace(&mut self.in_brackets, true);
        let inner = self.parse_or()?;
        self.skip_ws();
        if self.peek() != Some(']') {
            return Err(self.expected(
                self.pos,
                format!("expected \"and\", \"or\" or \"]\" to close the \"[\" at position {open}"),
            ));
        }
        self.pos += 1;
        self.in_brackets = outer;
        self.leave();
        Ok(inner)
    }

    /// An attribute expression or a value path.
    fn parse_term(&mut self) -> Result<Filter, FilterError> {
        let start = self.pos;
        let path = self.parse_attr_path()?;
        if self.peek() != Some('[') {
            return self.parse_operator_and_value(path, start);
        }
        let open = self.pos;
        if self.in_brackets {
            return Err(self.error_at(open, "value filters cannot be nested"));
        }
        if path.sub_attr.is_some() {
            return Err(self.error_at(
                open,
                format!(
                    "a value filter must follow an attribute name, not the sub-attribute path {}",
                    quote(&path.to_string())
                ),
            ));
        }
        let mut filter = self.parse_bracket()?;
        if self.peek() == Some('.') {
            // Entra's `emails[type eq "work"].value eq "x"`.
            self.pos += 1;
            let sub = self.parse_sub_attr_name()?;
            let cmp = self.parse_operator_and_value(AttrPath::new(sub), start)?;
            filter = Filter::And(Box::new(filter), Box::new(cmp));
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(filter),
        })
    }

    /// `ws "pr"` or `ws op value` after the attribute path that started at `start`.
    fn parse_operator_and_value(
        &mut self,
        path: AttrPath,
        start: usize,
    ) -> Result<Filter, FilterError> {
        let path_text = quote(self.src.get(start..self.pos).unwrap_or(""));
        self.skip_ws();
        let op_pos = self.pos;
        let word = self.word_at(op_pos);
        if word.eq_ignore_ascii_case("pr") {
            self.count_term(start)?;
            self.pos = op_pos + word.len();
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            return Err(self.expected(op_pos, format!("expected an operator after {path_text}")));
        };
        self.count_term(start)?;
        self.pos = op_pos + word.len();
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self, op: CompareOp) -> Result<Value, FilterError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('"') => return self.parse_string().map(Value::String),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                return self.parse_number().map(Value::Number)
            }
            _ => {}
        }
        let word = self.word_at(start);
        let value = if word.eq_ignore_ascii_case("true") {
            Value::Bool(true)
        } else if word.eq_ignore_ascii_case("false") {
            Value::Bool(false)
        } else if word.eq_ignore_ascii_case("null") {
            Value::Null
        } else {
            return Err(self.expected(
                start,
                format!(
                    "expected a value (a double-quoted string, a number, true, false or null) \
                     after \"{op}\""
                ),
            ));
        };
        self.pos = start + word.len();
        Ok(value)
    }

    /// A JSON string, with `pos` at the opening quote.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let here = self.pos;
            let Some(c) = self.peek() else {
                return Err(self.error_at(
                    here,
                    format!("unterminated string (opened at position {open})"),
                ));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.parse_escape(here)?),
                c if (c as u32) < 0x20 => {
                    return Err(self.error_at(
                        here,
                        format!(
                            "control character U+{:04X} must be escaped inside a string",
                            c as u32
                        ),
                    ))
                }
                c => out.push(c),
            }
        }
    }

    /// The rest of an escape sequence whose backslash is at `backslash`.
    fn parse_escape(&mut self, backslash: usize) -> Result<char, FilterError> {
        let Some(c) = self.peek() else {
            return Err(self.error_at(self.pos, "unterminated escape sequence"));
        };
        self.pos += c.len_utf8();
        let simple = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.parse_unicode_escape(backslash),
            other => {
                return Err(self.error_at(
                    backslash,
                    format!(
                        "invalid escape sequence \"\\{}\" (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                        other.escape_debug()
                    ),
                ))
            }
        };
        Ok(simple)
    }

    /// `XXXX` (and a following `\uXXXX` low surrogate if needed) after `\u`.
    fn parse_unicode_escape(&mut self, backslash: usize) -> Result<char, FilterError> {
        let high = self.parse_hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                let low_at = self.pos;
                if !self.rest_at(low_at).starts_with("\\u") {
                    return Err(self.error_at(
                        backslash,
                        "unpaired UTF-16 high surrogate in \\u escape (expected a \\uDC00-\\uDFFF escape to follow)",
                    ));
                }
                self.pos += 2;
                let low = self.parse_hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.error_at(
                        low_at,
                        "expected a UTF-16 low surrogate (\\uDC00-\\uDFFF) after a high surrogate",
                    ));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.error_at(backslash, "unpaired UTF-16 low surrogate in \\u escape"))
            }
            _ => high,
        };
        char::from_u32(code)
            .ok_or_else(|| self.error_at(backslash, "invalid code point in \\u escape"))
    }

    fn parse_hex4(&mut self) -> Result<u32, FilterError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut value = 0u32;
        for i in 0..4 {
            match bytes.get(start + i) {
                Some(b) if b.is_ascii_hexdigit() => {
                    value = value * 16 + char::from(*b).to_digit(16).unwrap_or(0);
                }
                // Only ASCII hex digits precede `start + i`, so it is a char boundary.
                _ => return Err(self.expected(start + i, "expected 4 hex digits after \"\\u\"")),
            }
        }
        self.pos = start + 4;
        Ok(value)
    }

    /// A JSON number, with `pos` at `-` or a digit.
    pub(crate) fn parse_number(&mut self) -> Result<Number, FilterError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => {
                i += 1;
                if digit_at(i) {
                    return Err(self.error_at(start, "numbers must not have leading zeros"));
                }
            }
            Some(b) if b.is_ascii_digit() => {
                while digit_at(i) {
                    i += 1;
                }
            }
            _ => return Err(self.expected(i, "expected a digit")),
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digit_at(i) {
                return Err(self.expected(i, "expected a digit after the decimal point"));
            }
            while digit_at(i) {
                i += 1;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digit_at(i) {
                return Err(self.expected(i, "expected a digit in the exponent"));
            }
            while digit_at(i) {
                i += 1;
            }
        }
        if bytes.get(i).is_some_and(|b| is_word_byte(*b)) {
            return Err(self.expected(i, "expected the number to end"));
        }
        self.pos = i;
        Ok(Number(self.src[start..i].to_string()))
    }

    /// `[urn ":"] ATTRNAME ["." ATTRNAME]` at `pos`.
    pub(crate) fn parse_attr_path(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        let end = self.scan_end(start, is_word_byte);
        // The token is ASCII only, so any byte index into it is a char boundary.
        let token = &self.src[start..end];
        if token.is_empty() {
            return Err(self.expected(start, "expected an attribute path"));
        }
        let (urn, names_at) = if token.len() >= 4 && token[..4].eq_ignore_ascii_case("urn:") {
            if self.in_brackets {
                return Err(self.error_at(
                    start,
                    "attributes inside a value filter must be plain sub-attribute names, \
                     without a schema URN",
                ));
            }
            let colon = token.rfind(':').unwrap_or(3);
            let urn = &token[..colon];
            if colon <= 4 {
                return Err(self.error_at(
                    start,
                    format!(
                        "incomplete schema URN in {}: expected \"urn:<schema>:<attribute>\"",
                        quote(token)
                    ),
                ));
            }
            if let Some(i) = urn.find("::") {
                return Err(self.error_at(start + i + 1, "empty segment in schema URN"));
            }
            if let Some(i) = urn.find('$') {
                return Err(self.error_at(start + i, "invalid character \"$\" in schema URN"));
            }
            (Some(urn.to_string()), colon + 1)
        } else if let Some(i) = token.find(':') {
            return Err(self.error_at(
                start + i,
                "unexpected \":\" in attribute path (a schema URN prefix must start with \"urn:\")",
            ));
        } else {
            (None, 0)
        };
        let names = &token[names_at..];
        let names_start = start + names_at;
        let (attr, sub) = match names.find('.') {
            Some(dot) => (
                &names[..dot],
                Some((&names[dot + 1..], names_start + dot + 1)),
            ),
            None => (names, None),
        };
        self.check_name(attr, names_start)?;
        let sub_attr = match sub {
            None => None,
            Some((sub, sub_start)) => {
                if self.in_brackets {
                    return Err(self.error_at(
                        sub_start - 1,
                        "attributes inside a value filter must be plain sub-attribute names, \
                         without a \".\"",
                    ));
                }
                if let Some(dot) = sub.find('.') {
                    return Err(self.error_at(
                        sub_start + dot,
                        "an attribute path can have at most one sub-attribute",
                    ));
                }
                self.check_name(sub, sub_start)?;
                Some(sub.to_string())
            }
        };
        self.pos = end;
        Ok(AttrPath {
            urn,
            attr: attr.to_string(),
            sub_attr,
        })
    }

    /// A bare `ATTRNAME` at `pos` (after `].`).
    pub(crate) fn parse_sub_attr_name(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        let end = self.scan_end(start, is_name_byte);
        let name = &self.src[start..end];
        self.check_name(name, start)?;
        self.pos = end;
        Ok(name.to_string())
    }

    /// Checks `ATTRNAME = ["$"] ALPHA *(ALPHA / DIGIT / "-" / "_")`; `name` is ASCII and
    /// starts at byte `at`.
    fn check_name(&self, name: &str, at: usize) -> Result<(), FilterError> {
        let body = name.strip_prefix('$').unwrap_or(name);
        let body_at = at + (name.len() - body.len());
        match body.bytes().next() {
            None => return Err(self.expected(at, "expected an attribute name")),
            Some(b) if !b.is_ascii_alphabetic() => {
                return Err(self.error_at(
                    at,
                    format!(
                        "invalid attribute name {}: names start with a letter",
                        quote(name)
                    ),
                ))
            }
            Some(_) => {}
        }
        if let Some(i) = body
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            return Err(self.error_at(
                body_at + i,
                format!("invalid character in attribute name {}", quote(name)),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn parse_ok(input: &str) -> Filter {
        Filter::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse, got: {e}"))
    }

    fn path(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    fn cmp(p: &str, op: CompareOp, v: impl Into<Value>) -> Filter {
        Filter::Compare {
            path: path(p),
            op,
            value: v.into(),
        }
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }

    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }

    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }

    fn vp(p: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            path: path(p),
            filter: Box::new(f),
        }
    }

    /// parse(display(f)) == f, and display is a fixed point. The only failures allowed are
    /// the limits: the canonical form can be slightly longer than the input (`eq"x"` gains a
    /// space, `a[f].b eq 1` gains `and` and maybe parentheses) and so can cross a limit.
    fn assert_round_trip(input: &str, f: &Filter) {
        let printed = f.to_string();
        match Filter::parse(&printed) {
            Ok(again) => {
                assert_eq!(
                    &again, f,
                    "round trip changed the AST: {input:?} -> {printed:?}"
                );
                assert_eq!(again.to_string(), printed, "display is not a fixed point");
            }
            Err(FilterError::TooLong { .. } | FilterError::TooDeep { .. }) => {}
            Err(e) => panic!("canonical form {printed:?} of {input:?} does not parse: {e}"),
        }
    }

    /// (input, canonical form)
    const VALID: &[(&str, &str)] = &[
        // What Okta and Microsoft Entra send.
        (
            r#"userName eq "test.user@example.com""#,
            r#"userName eq "test.user@example.com""#,
        ),
        (r#"externalId eq "abc""#, r#"externalId eq "abc""#),
        (
            r#"displayName eq "Group Name""#,
            r#"displayName eq "Group Name""#,
        ),
        (r#"members[value eq "id"]"#, r#"members[value eq "id"]"#),
        (
            r#"emails[type eq "work"].value eq "x""#,
            r#"emails[type eq "work" and value eq "x"]"#,
        ),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"title pr and userType eq "Employee""#,
            r#"title pr and userType eq "Employee""#,
        ),
        (r#"not (userName sw "j")"#, r#"not (userName sw "j")"#),
        (
            r#"userName Eq "a" OR (active eq TRUE and name.familyName co "O'Malley")"#,
            r#"userName eq "a" or active eq true and name.familyName co "O'Malley""#,
        ),
        (
            r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
            r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
        ),
        (
            r#"externalId eq "00u1abcd2EFGH3ijk4l5" "#,
            r#"externalId eq "00u1abcd2EFGH3ijk4l5""#,
        ),
        (
            r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#,
            r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#,
        ),
        (
            r#"id eq "g1" and members[value eq "u1"]"#,
            r#"id eq "g1" and members[value eq "u1"]"#,
        ),
        (
            r#"id eq "g1" and members eq "u1""#,
            r#"id eq "g1" and members eq "u1""#,
        ),
        (
            r#"emails[type eq "work"].value eq "a@b.c" and active eq true"#,
            r#"emails[type eq "work" and value eq "a@b.c"] and active eq true"#,
        ),
        // RFC 7644 §3.4.2.2 examples.
        (
            r#"name.familyName co "O'Malley""#,
            r#"name.familyName co "O'Malley""#,
        ),
        (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
        (r#"userName sw "J""#, r#"userName sw "J""#),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        ),
        ("title pr", "title pr"),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"title pr or userType eq "Intern""#,
            r#"title pr or userType eq "Intern""#,
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails.type eq "work""#,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ),
        // SPEC §8 attributes, schema URNs.
        ("active eq true", "active eq true"),
        ("active eq false", "active eq false"),
        (r#"active eq "true""#, r#"active eq "true""#),
        (r#"emails.value eq "a@b.c""#, r#"emails.value eq "a@b.c""#),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
        ),
        (
            r#"URN:IETF:params:scim:schemas:core:2.0:User:userName eq "x""#,
            r#"URN:IETF:params:scim:schemas:core:2.0:User:userName eq "x""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
        ),
        // Operators and keywords in any case.
        ("a NE 1", "a ne 1"),
        (r#"a cO "x""#, r#"a co "x""#),
        (r#"a SW "x""#, r#"a sw "x""#),
        (r#"a Ew "x""#, r#"a ew "x""#),
        ("a Gt 1", "a gt 1"),
        ("a gE 1", "a ge 1"),
        ("a LT 1", "a lt 1"),
        ("a le 1", "a le 1"),
        ("a PR", "a pr"),
        ("a eq Null", "a eq null"),
        ("a eq fAlSe", "a eq false"),
        ("A pr AND b pr", "A pr and b pr"),
        ("a pr oR b pr", "a pr or b pr"),
        ("NOT (a pr)", "not (a pr)"),
        ("Not(a pr)", "not (a pr)"),
        ("not   (a pr)", "not (a pr)"),
        // Numbers.
        ("a eq 0", "a eq 0"),
        ("a eq -1", "a eq -1"),
        ("a eq 42", "a eq 42"),
        ("a gt 3.14", "a gt 3.14"),
        ("a lt -0.5", "a lt -0.5"),
        ("a eq 1e10", "a eq 1e10"),
        ("a eq 2.5E-3", "a eq 2.5E-3"),
        ("a eq -0", "a eq -0"),
        (
            "a eq 123456789012345678901234567890",
            "a eq 123456789012345678901234567890",
        ),
        // Strings.
        (r#"a eq """#, r#"a eq """#),
        (r#"a eq "a\"b""#, r#"a eq "a\"b""#),
        (r#"a eq "back\\slash""#, r#"a eq "back\\slash""#),
        (r#"a eq "\/""#, r#"a eq "/""#),
        (r#"a eq "\u00e9""#, "a eq \"\u{e9}\""),
        (r#"a eq "\u00E9t\u00C9""#, "a eq \"\u{e9}t\u{c9}\""),
        (r#"a eq "\ud83d\ude00""#, "a eq \"\u{1F600}\""),
        (r#"a eq "\uD83D\uDE00""#, "a eq \"\u{1F600}\""),
        (r#"a eq "\b\f\n\r\t""#, r#"a eq "\b\f\n\r\t""#),
        (r#"a eq "\u0001\u001F""#, r#"a eq "\u0001\u001f""#),
        (r#"a eq "\u0000""#, r#"a eq "\u0000""#),
        ("a eq \"日本語 ünïcödé 😀\"", "a eq \"日本語 ünïcödé 😀\""),
        (
            r#"a eq "and or not ) ( ] [ pr""#,
            r#"a eq "and or not ) ( ] [ pr""#,
        ),
        // Whitespace.
        ("  userName   eq   \"x\"  ", r#"userName eq "x""#),
        ("a pr\tand\nb pr\r\n", "a pr and b pr"),
        ("( a pr )", "a pr"),
        (r#"a eq"x""#, r#"a eq "x""#),
        (r#"a eq "x"and b pr"#, r#"a eq "x" and b pr"#),
        ("(a pr)and(b pr)", "a pr and b pr"),
        // Precedence: not > and > or; and/or are left-associative.
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("a pr and b pr or c pr", "a pr and b pr or c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr and (b pr or c pr)", "a pr and (b pr or c pr)"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
        ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
        ("((a pr))", "a pr"),
        ("not (a pr) and b pr", "not (a pr) and b pr"),
        ("not (a pr or b pr)", "not (a pr or b pr)"),
        ("not (not (a pr))", "not (not (a pr))"),
        ("a pr and not (b pr) or c pr", "a pr and not (b pr) or c pr"),
        // Value paths.
        (r#"emails[type eq "work"]"#, r#"emails[type eq "work"]"#),
        (r#"emails[ type eq "work" ]"#, r#"emails[type eq "work"]"#),
        (r#"emails[(type eq "work")]"#, r#"emails[type eq "work"]"#),
        (
            r#"emails[type eq "work"].value pr"#,
            r#"emails[type eq "work" and value pr]"#,
        ),
        (
            r#"emails[type eq "work" or type eq "home"].value eq "x""#,
            r#"emails[(type eq "work" or type eq "home") and value eq "x"]"#,
        ),
        (
            r#"emails[not (type eq "work")]"#,
            r#"emails[not (type eq "work")]"#,
        ),
        (
            r#"members[$ref eq "https://x/Users/1"]"#,
            r#"members[$ref eq "https://x/Users/1"]"#,
        ),
        (
            r#"emails[primary eq true] and emails[type eq "work"]"#,
            r#"emails[primary eq true] and emails[type eq "work"]"#,
        ),
        (
            r#"addresses[type eq "work"].postalCode sw "9""#,
            r#"addresses[type eq "work" and postalCode sw "9"]"#,
        ),
        (
            r#"not (emails[type eq "work"])"#,
            r#"not (emails[type eq "work"])"#,
        ),
        // Attribute names.
        ("x-y_z1 eq 1", "x-y_z1 eq 1"),
        ("a.b-c pr", "a.b-c pr"),
        ("$ref pr", "$ref pr"),
    ];

    #[test]
    fn valid_filters_parse_to_their_canonical_form() {
        for (input, canonical) in VALID {
            let f = parse_ok(input);
            assert_eq!(&f.to_string(), canonical, "canonical form of {input:?}");
            assert_round_trip(input, &f);
            assert_eq!(input.parse::<Filter>().as_ref(), Ok(&f));
        }
    }

    #[test]
    fn ast_shapes() {
        assert_eq!(
            parse_ok(r#"userName Eq "a" OR (active eq TRUE and name.familyName co "O'Malley")"#),
            or(
                cmp("userName", CompareOp::Eq, "a"),
                and(
                    cmp("active", CompareOp::Eq, true),
                    cmp("name.familyName", CompareOp::Co, "O'Malley")
                )
            )
        );
        assert_eq!(
            parse_ok("a pr or b pr and c pr"),
            or(pr("a"), and(pr("b"), pr("c")))
        );
        assert_eq!(
            parse_ok("a pr and b pr and c pr"),
            and(and(pr("a"), pr("b")), pr("c"))
        );
        assert_eq!(parse_ok("not (a pr) and b pr"), and(not(pr("a")), pr("b")));
        assert_eq!(
            parse_ok(r#"emails[type eq "work"].value eq "x""#),
            vp(
                "emails",
                and(
                    cmp("type", CompareOp::Eq, "work"),
                    cmp("value", CompareOp::Eq, "x")
                )
            )
        );
        assert_eq!(
            parse_ok(r#"members[value eq "id"]"#),
            vp("members", cmp("value", CompareOp::Eq, "id"))
        );
        assert_eq!(
            parse_ok("title pr"),
            Filter::Present(AttrPath::new("title"))
        );
        assert_eq!(
            parse_ok("x eq null"),
            Filter::Compare {
                path: AttrPath::new("x"),
                op: CompareOp::Eq,
                value: Value::Null
            }
        );
    }

    #[test]
    fn attribute_paths() {
        let f = parse_ok(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
        );
        let Filter::Compare { path, .. } = f else {
            panic!("expected a comparison")
        };
        assert_eq!(
            path.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(path.attr, "employeeNumber");
        assert_eq!(path.sub_attr, None);

        let p = path_of("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName pr");
        assert_eq!(
            p.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:core:2.0:User")
        );
        assert_eq!(p.attr, "name");
        assert_eq!(p.sub_attr.as_deref(), Some("familyName"));

        let p = path_of("meta.lastModified pr");
        assert_eq!(
            (p.urn, p.attr.as_str(), p.sub_attr.as_deref()),
            (None, "meta", Some("lastModified"))
        );
    }

    fn path_of(input: &str) -> AttrPath {
        match parse_ok(input) {
            Filter::Present(p) | Filter::Compare { path: p, .. } => p,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn attr_path_names_compare_case_insensitively() {
        let a = path("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName");
        let b = path("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:NAME.FAMILYNAME");
        assert_eq!(a, b);
        assert_ne!(a, path("name.familyName"));
        assert_ne!(path("name"), path("name.familyName"));
        let set: HashSet<AttrPath> = [a.clone(), b.clone()].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(b.normalized().attr, "name");
        assert_eq!(b.normalized().sub_attr.as_deref(), Some("familyname"));
        assert_eq!(
            b.key(),
            "urn:ietf:params:scim:schemas:core:2.0:user:name.familyname"
        );
        assert_eq!(path("userName").key(), "username");
        // Display keeps the original spelling.
        assert_eq!(
            b.to_string(),
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:NAME.FAMILYNAME"
        );
        assert_eq!(parse_ok("USERNAME eq \"x\""), parse_ok("userName eq \"x\""));
        assert_eq!(
            " emails.value ".parse::<AttrPath>(),
            Ok(path("emails.value"))
        );
        assert!(AttrPath::parse("emails[type eq \"work\"]").is_err());
        assert!(AttrPath::parse("").is_err());
    }

    #[test]
    fn values() {
        let value_of = |input: &str| match parse_ok(input) {
            Filter::Compare { value, .. } => value,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(value_of(r#"a eq "a\"b\\c\/d""#), Value::from("a\"b\\c/d"));
        assert_eq!(
            value_of(r#"a eq "\b\f\n\r\t""#),
            Value::from("\u{8}\u{c}\n\r\t")
        );
        assert_eq!(value_of(r#"a eq "\u00e9\u4e2d""#), Value::from("é中"));
        assert_eq!(value_of(r#"a eq "x\ud83d\ude00y""#), Value::from("x😀y"));
        assert_eq!(
            value_of(r#"a eq "\udbff\udfff""#),
            Value::from("\u{10FFFF}")
        );
        assert_eq!(value_of("a eq TRUE"), Value::Bool(true));
        assert_eq!(value_of("a eq false"), Value::Bool(false));
        assert_eq!(value_of("a eq NULL"), Value::Null);
        assert_eq!(value_of("a eq -17"), Value::from(-17));

        let Value::Number(n) = value_of("a eq -17") else {
            panic!()
        };
        assert!(n.is_integer());
        assert_eq!(n.as_i64(), Some(-17));
        assert_eq!(n.as_f64(), Some(-17.0));
        let Value::Number(n) = value_of("a eq 2.5e2") else {
            panic!()
        };
        assert!(!n.is_integer());
        assert_eq!(n.as_i64(), None);
        assert_eq!(n.as_f64(), Some(250.0));
        assert_eq!(n.as_str(), "2.5e2");
        let Value::Number(n) = value_of("a eq 99999999999999999999") else {
            panic!()
        };
        assert_eq!(n.as_i64(), None);
        assert_eq!(n.as_f64(), Some(1e20));

        assert_eq!(
            Number::new("12.5").map(|n| n.to_string()),
            Some("12.5".to_string())
        );
        assert_eq!(Number::new("012"), None);
        assert_eq!(Number::new("1 "), None);
        assert_eq!(Number::new(""), None);
        assert_eq!(Number::new("abc"), None);
    }

    #[test]
    fn referenced_attributes_are_deduplicated_and_qualified() {
        let f = parse_ok(
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"] or USERTYPE pr or emails.TYPE pr or not (meta.lastModified gt "2020")"#,
        );
        assert_eq!(
            f.referenced_attributes(),
            vec![
                path("userType"),
                path("emails.type"),
                path("emails.value"),
                path("meta.lastModified"),
            ]
        );
        let f = parse_ok(r#"urn:x:y:User:emails[type eq "work"].value eq "v""#);
        assert_eq!(
            f.referenced_attributes(),
            vec![
                path("urn:x:y:User:emails.type"),
                path("urn:x:y:User:emails.value")
            ]
        );
        assert_eq!(
            parse_ok("title pr").referenced_attributes(),
            vec![path("title")]
        );
    }

    /// (input, error position, fragment of the message)
    const INVALID: &[(&str, usize, &str)] = &[
        ("", 0, r#"expected an attribute path, "not" or "(""#),
        ("   ", 3, r#"expected an attribute path, "not" or "(""#),
        ("userName", 8, r#"expected an operator after "userName""#),
        (
            r#"userName "a""#,
            9,
            r#"expected an operator after "userName""#,
        ),
        (
            r#"userName xx "a""#,
            9,
            r#"expected an operator after "userName""#,
        ),
        ("a prx", 2, r#"expected an operator after "a""#),
        ("a eqq 1", 2, "expected an operator"),
        ("a.pr", 4, r#"expected an operator after "a.pr""#),
        (
            "userName eq",
            11,
            r#"expected a value (a double-quoted string, a number, true, false or null) after "eq""#,
        ),
        ("userName eq john", 12, "expected a value"),
        ("userName eq 'x'", 12, "expected a value"),
        ("x eq tru", 5, "expected a value"),
        ("a eq true1", 5, "expected a value"),
        ("a eq +1", 5, "expected a value"),
        ("a eq .5", 5, "expected a value"),
        (r#"userName eq "a" and"#, 19, "expected an attribute path"),
        (
            r#"userName eq "a" foo"#,
            16,
            r#"expected "and", "or" or end of input"#,
        ),
        (r#"a eq "x"y"#, 8, r#"expected "and", "or" or end of input"#),
        (
            r#"userName eq "a" )"#,
            16,
            r#"expected "and", "or" or end of input"#,
        ),
        (
            "userName pr)",
            11,
            r#"expected "and", "or" or end of input"#,
        ),
        (
            "(userName pr",
            12,
            r#"expected "and", "or" or ")" to close the "(" at position 0"#,
        ),
        (
            r#"x eq "a" and (y pr"#,
            18,
            r#"to close the "(" at position 13"#,
        ),
        ("not (a pr", 9, r#"to close the "(" at position 4"#),
        ("(", 1, "expected an attribute path"),
        (")", 0, "expected an attribute path"),
        ("[a pr]", 0, "expected an attribute path"),
        ("not userName pr", 4, r#"expected "(" after "not""#),
        ("not", 3, r#"expected "(" after "not""#),
        ("a pr and and b pr", 9, "expected an attribute path"),
        ("a pr or", 7, "expected an attribute path"),
        ("and pr", 0, "expected an attribute path"),
        (
            r#"emails[type eq "work""#,
            21,
            r#"expected "and", "or" or "]" to close the "[" at position 6"#,
        ),
        ("emails[]", 7, "expected an attribute path"),
        (
            "emails[type[value eq 1]]",
            11,
            "value filters cannot be nested",
        ),
        (
            "name.familyName[value eq 1]",
            15,
            "a value filter must follow an attribute name",
        ),
        (
            r#"emails[type eq "work"]."#,
            23,
            "expected an attribute name",
        ),
        (
            r#"emails[type eq "work"].value"#,
            28,
            r#"expected an operator after "emails[type eq \"work\"].value""#,
        ),
        (
            r#"emails[type eq "work"] eq "x""#,
            23,
            r#"expected "and", "or" or end of input"#,
        ),
        (
            r#"emails [type eq "work"]"#,
            7,
            r#"expected an operator after "emails""#,
        ),
        ("emails[urn:x:y:type eq 1]", 7, "without a schema URN"),
        ("emails[value.x eq 1]", 12, r#"without a ".""#),
        ("a.b.c pr", 3, "at most one sub-attribute"),
        ("a. pr", 2, "expected an attribute name"),
        ("foo:bar pr", 3, r#"unexpected ":" in attribute path"#),
        ("urn:foo:bar: pr", 12, "expected an attribute name"),
        ("urn:userName pr", 0, "incomplete schema URN"),
        ("urn::a:b pr", 4, "empty segment in schema URN"),
        ("1abc pr", 0, "names start with a letter"),
        ("-a pr", 0, "names start with a letter"),
        ("a$b pr", 1, "invalid character in attribute name"),
        ("\u{fc} eq 1", 0, "expected an attribute path"),
        ("a\u{fc} eq 1", 1, "expected an operator"),
        (
            r#"x eq "abc"#,
            9,
            "unterminated string (opened at position 5)",
        ),
        ("a eq \"\\", 7, "unterminated escape sequence"),
        (r#"x eq "a\qb""#, 7, r#"invalid escape sequence "\q""#),
        (r#"x eq "\u12""#, 10, "expected 4 hex digits"),
        (r#"x eq "\u12é""#, 10, "expected 4 hex digits"),
        (r#"x eq "\ud83d""#, 6, "unpaired UTF-16 high surrogate"),
        (r#"x eq "\ud83dx""#, 6, "unpaired UTF-16 high surrogate"),
        (r#"x eq "\ude00""#, 6, "unpaired UTF-16 low surrogate"),
        (
            r#"x eq "\ud83d\u0041""#,
            12,
            "expected a UTF-16 low surrogate",
        ),
        ("x eq 01", 5, "leading zeros"),
        ("x eq -01", 5, "leading zeros"),
        ("x eq 1.", 7, "expected a digit after the decimal point"),
        ("x eq -", 6, "expected a digit"),
        ("a eq --1", 6, "expected a digit"),
        ("x eq 1e", 7, "expected a digit in the exponent"),
        ("x eq 1e+", 8, "expected a digit in the exponent"),
        ("x eq 12abc", 7, "expected the number to end"),
        ("a eq 1.5.3", 8, "expected the number to end"),
        (
            "x eq \"a\nb\"",
            7,
            "control character U+000A must be escaped",
        ),
        (
            "x eq \"a\u{1}b\"",
            7,
            "control character U+0001 must be escaped",
        ),
    ];

    #[test]
    fn invalid_filters_report_positions() {
        for (input, position, fragment) in INVALID {
            let err = match Filter::parse(input) {
                Ok(f) => panic!("{input:?} should not parse, got {f:?}"),
                Err(e) => e,
            };
            let message = err.to_string();
            assert_eq!(
                err.position(),
                *position,
                "position for {input:?}: {message}"
            );
            assert!(
                message.contains(fragment),
                "message for {input:?} should contain {fragment:?}: {message}"
            );
            assert!(
                message.contains(&format!("at position {position}")),
                "message for {input:?}: {message}"
            );
            assert_eq!(err.scim_type(), "invalidFilter");
        }
    }

    #[test]
    fn error_messages_read_well() {
        let e = Filter::parse(r#"userName "a""#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"expected an operator after "userName" at position 9, found "\"""#
        );
        let e = Filter::parse("userName").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"expected an operator after "userName" at position 8, found end of input"#
        );
        let e = Filter::parse(r#"userName eq "a" bogus"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"expected "and", "or" or end of input at position 16, found "bogus""#
        );
        let e = Filter::parse("x eq 01").unwrap_err();
        assert_eq!(
            e.to_string(),
            "numbers must not have leading zeros at position 5"
        );
        // Long tokens are shortened in messages.
        let long = format!("x eq 1 {}", "a".repeat(100));
        let e = Filter::parse(&long).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("\"{}...\"", "a".repeat(40))),
            "{e}"
        );
        // FilterError is a std error.
        let _: &dyn std::error::Error = &e;
    }

    #[test]
    fn length_limit() {
        let at_limit = format!("a eq \"{}\"", "x".repeat(MAX_INPUT_LEN - 7));
        assert_eq!(at_limit.len(), MAX_INPUT_LEN);
        parse_ok(&at_limit);
        let over = format!("a eq \"{}\"", "x".repeat(MAX_INPUT_LEN - 6));
        let err = Filter::parse(&over).unwrap_err();
        assert_eq!(
            err,
            FilterError::TooLong {
                len: MAX_INPUT_LEN + 1,
                max: MAX_INPUT_LEN
            }
        );
        assert_eq!(err.scim_type(), "invalidFilter");
        assert!(Filter::parse(&"(".repeat(1_000_000)).is_err());
    }

    #[test]
    fn depth_limit() {
        let nest = |open: &str, n: usize| format!("{}a pr{}", open.repeat(n), ")".repeat(n));
        parse_ok(&nest("(", MAX_DEPTH));
        assert_eq!(
            Filter::parse(&nest("(", MAX_DEPTH + 1)),
            Err(FilterError::TooDeep {
                position: MAX_DEPTH,
                max: MAX_DEPTH
            })
        );
        // `not (` uses two levels.
        parse_ok(&nest("not (", MAX_DEPTH / 2));
        assert_eq!(
            Filter::parse(&nest("not (", MAX_DEPTH / 2 + 1)),
            Err(FilterError::TooDeep {
                position: MAX_DEPTH / 2 * 5,
                max: MAX_DEPTH
            })
        );
        // Brackets count too.
        let with_bracket = |n: usize| format!("{}emails[type pr]{}", "(".repeat(n), ")".repeat(n));
        parse_ok(&with_bracket(MAX_DEPTH - 1));
        assert_eq!(
            Filter::parse(&with_bracket(MAX_DEPTH)),
            Err(FilterError::TooDeep {
                position: MAX_DEPTH + 6,
                max: MAX_DEPTH
            })
        );
        // Hostile inputs as deep as the length limit allows: an error, not a stack overflow.
        for open in ["(", "not (", "not(", "emails[", "a[(", "(not ("] {
            let s = open.repeat(MAX_INPUT_LEN / open.len());
            let err = Filter::parse(&s).unwrap_err();
            assert!(
                matches!(err, FilterError::TooDeep { .. }) || open.contains('['),
                "{open:?}: {err}"
            );
        }
    }

    #[test]
    fn term_limit() {
        let chain = |n: usize, sep: &str| vec!["a pr"; n].join(sep);
        // The longest chains give the deepest ASTs; Display, Drop and
        // referenced_attributes recurse through them.
        for sep in [" and ", " or "] {
            let input = chain(MAX_TERMS, sep);
            let f = parse_ok(&input);
            assert_eq!(f.to_string(), input);
            assert_round_trip(&input, &f);
            assert_eq!(f.referenced_attributes(), vec![path("a")]);
        }
        assert_eq!(
            Filter::parse(&chain(MAX_TERMS + 1, " and ")),
            Err(FilterError::TooManyTerms {
                position: MAX_TERMS * 9,
                max: MAX_TERMS
            })
        );
        assert!(matches!(
            Filter::parse(&chain(MAX_TERMS + 1, " or ")),
            Err(FilterError::TooManyTerms { .. })
        ));
        // Terms inside brackets count.
        let inner = format!("emails[{}]", chain(MAX_TERMS + 1, " and "));
        assert!(matches!(
            Filter::parse(&inner),
            Err(FilterError::TooManyTerms { .. })
        ));
        let comparisons = vec!["x eq 1"; MAX_TERMS + 1].join(" or ");
        assert!(matches!(
            Filter::parse(&comparisons),
            Err(FilterError::TooManyTerms { .. })
        ));
    }

    // ----- deterministic fuzzing -----

    /// Iteration count for the fuzz loops; `SCIM_FUZZ_SCALE=100 cargo test` runs longer.
    fn iterations(base: usize) -> usize {
        let scale = std::env::var("SCIM_FUZZ_SCALE")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(1);
        base.saturating_mul(scale)
    }

    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }

        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    /// Parsing must not panic; errors must point inside the input on a char boundary;
    /// successes must round-trip.
    fn check_any(input: &str) -> bool {
        match Filter::parse(input) {
            Ok(f) => {
                assert_round_trip(input, &f);
                true
            }
            Err(e) => {
                if !matches!(e, FilterError::TooLong { .. }) {
                    let pos = e.position();
                    assert!(pos <= input.len(), "{input:?}: {e}");
                    assert!(input.is_char_boundary(pos), "{input:?}: {e}");
                }
                assert!(!e.to_string().is_empty());
                assert_eq!(e.scim_type(), "invalidFilter");
                false
            }
        }
    }

    const TOKENS: &[&str] = &[
        "userName",
        "emails",
        "name.familyName",
        "meta.lastModified",
        "$ref",
        "type",
        "value",
        "urn:ietf:params:scim:schemas:core:2.0:User:",
        "urn:",
        "urn:a:b:c",
        ":",
        ".",
        ".value",
        "eq",
        "EQ",
        "ne",
        "co",
        "sw",
        "ew",
        "gt",
        "ge",
        "lt",
        "le",
        "pr",
        "Pr",
        "and",
        "AND",
        "or",
        "Or",
        "not",
        "NOT",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "\"x\"",
        "\"a b\"",
        "\"\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\\",
        "\\u",
        "\\uD",
        "\"\\",
        "0",
        "-1",
        "1.5",
        "1e9",
        "01",
        "-",
        "true",
        "FALSE",
        "null",
        "nul",
        " ",
        " ",
        " ",
        "\t",
        "\n",
        "é",
        "😀",
        "日本",
        "\u{0}",
        "\u{1f}",
        "'",
        "\u{7f}",
        "\u{feff}",
        "\u{200b}",
    ];

    #[test]
    fn fuzz_random_bytes() {
        let mut rng = Lcg(0x5eed_0001);
        for _ in 0..iterations(4000) {
            let len = rng.below(48);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            check_any(&String::from_utf8_lossy(&bytes));
        }
        // Bytes drawn from the filter alphabet hit far more interesting paths.
        let alphabet = b"()[]\\\"./:$-_ aenotrqpswlgcuvdAENOTR0123456789\t";
        for _ in 0..iterations(6000) {
            let len = rng.below(40);
            let s: String = (0..len).map(|_| char::from(rng.pick(alphabet))).collect();
            check_any(&s);
        }
    }

    #[test]
    fn fuzz_token_soup() {
        let mut rng = Lcg(0x5eed_0002);
        for _ in 0..iterations(8000) {
            let n = rng.below(14);
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(rng.pick(TOKENS));
                if rng.chance(60) {
                    s.push(' ');
                }
            }
            check_any(&s);
        }
    }

    #[test]
    fn fuzz_mutated_valid_filters() {
        let mut rng = Lcg(0x5eed_0003);
        let mut parsed = 0;
        for _ in 0..iterations(8000) {
            let (base, _) = rng.pick(VALID);
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(chars.len() + 1);
                match rng.below(4) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => {
                        let token: Vec<char> = rng.pick(TOKENS).chars().collect();
                        chars.splice(at..at, token);
                    }
                    2 if at < chars.len() => {
                        let end = (at + 1 + rng.below(8)).min(chars.len());
                        let dup: Vec<char> = chars[at..end].to_vec();
                        chars.splice(at..at, dup);
                    }
                    _ => chars.truncate(at),
                }
            }
            if check_any(&chars.iter().collect::<String>()) {
                parsed += 1;
            }
        }
        // Make sure the mutations leave enough valid inputs to exercise the round trip.
        assert!(
            parsed > iterations(1000),
            "only {parsed} mutated filters parsed"
        );
    }

    fn random_case(rng: &mut Lcg, word: &str) -> String {
        word.chars()
            .map(|c| {
                if rng.chance(30) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    fn ws(rng: &mut Lcg) -> &'static str {
        rng.pick(&[" ", " ", " ", "  ", "\t", " \n "])
    }

    /// A random string and a JSON encoding of it using a random mix of escapes.
    fn gen_string(rng: &mut Lcg) -> (String, String) {
        const CHARS: &[char] = &[
            'a',
            'Z',
            '0',
            ' ',
            '"',
            '\\',
            '/',
            '\'',
            '\n',
            '\t',
            '\u{8}',
            '\u{c}',
            '\r',
            '\u{0}',
            '\u{1f}',
            '\u{7f}',
            'é',
            '中',
            '😀',
            '\u{10FFFF}',
            '\u{FFFF}',
            '(',
            ']',
            '[',
            ')',
        ];
        let len = rng.below(8);
        let raw: String = (0..len).map(|_| rng.pick(CHARS)).collect();
        let mut enc = String::from("\"");
        for c in raw.chars() {
            let forced = matches!(c, '"' | '\\') || (c as u32) < 0x20;
            if rng.chance(25) || (forced && rng.chance(50)) {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if rng.chance(50) {
                        enc.push_str(&format!("\\u{u:04x}"));
                    } else {
                        enc.push_str(&format!("\\u{u:04X}"));
                    }
                }
            } else {
                match c {
                    '"' => enc.push_str("\\\""),
                    '\\' => enc.push_str("\\\\"),
                    '/' if rng.chance(50) => enc.push_str("\\/"),
                    '\n' => enc.push_str("\\n"),
                    '\t' => enc.push_str("\\t"),
                    '\r' => enc.push_str("\\r"),
                    '\u{8}' => enc.push_str("\\b"),
                    '\u{c}' => enc.push_str("\\f"),
                    c if (c as u32) < 0x20 => enc.push_str(&format!("\\u{:04x}", c as u32)),
                    c => enc.push(c),
                }
            }
        }
        enc.push('"');
        (raw, enc)
    }

    fn gen_value(rng: &mut Lcg) -> String {
        match rng.below(6) {
            0 | 1 => gen_string(rng).1,
            2 => rng
                .pick(&["0", "-1", "42", "3.25", "-0.5", "1e3", "2E-2", "1.5e+7"])
                .to_string(),
            3 => random_case(rng, "true"),
            4 => random_case(rng, "false"),
            _ => random_case(rng, "null"),
        }
    }

    fn gen_path(rng: &mut Lcg, in_brackets: bool) -> String {
        const NAMES: &[&str] = &[
            "userName", "name", "emails", "active", "type", "value", "$ref", "x-y_1",
        ];
        let mut s = String::new();
        if !in_brackets && rng.chance(15) {
            s.push_str(rng.pick(&[
                "urn:ietf:params:scim:schemas:core:2.0:User:",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
            ]));
        }
        let attr = rng.pick(NAMES);
        s.push_str(&random_case(rng, attr));
        if !in_brackets && rng.chance(30) {
            s.push('.');
            let sub = rng.pick(NAMES);
            s.push_str(&random_case(rng, sub));
        }
        s
    }

    fn gen_filter(rng: &mut Lcg, depth: usize, in_brackets: bool) -> String {
        let choice = if depth == 0 {
            rng.below(3)
        } else {
            rng.below(8)
        };
        match choice {
            0 | 1 => {
                let op = rng.pick(&["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]);
                format!(
                    "{}{}{}{}{}",
                    gen_path(rng, in_brackets),
                    ws(rng),
                    random_case(rng, op),
                    ws(rng),
                    gen_value(rng)
                )
            }
            2 => format!(
                "{}{}{}",
                gen_path(rng, in_brackets),
                ws(rng),
                random_case(rng, "pr")
            ),
            3 | 4 => {
                let kw = if choice == 3 { "and" } else { "or" };
                let l = gen_filter(rng, depth - 1, in_brackets);
                let sep1 = ws(rng);
                let kw = random_case(rng, kw);
                let sep2 = ws(rng);
                let r = gen_filter(rng, depth - 1, in_brackets);
                format!("{l}{sep1}{kw}{sep2}{r}")
            }
            5 => {
                let kw = random_case(rng, "not");
                let sep = if rng.chance(50) { " " } else { "" };
                format!("{kw}{sep}({})", gen_filter(rng, depth - 1, in_brackets))
            }
            6 => format!("({})", gen_filter(rng, depth - 1, in_brackets)),
            _ if in_brackets => gen_filter(rng, depth - 1, in_brackets),
            _ => {
                let mut name = String::new();
                if rng.chance(20) {
                    name.push_str("urn:ietf:params:scim:schemas:core:2.0:User:");
                }
                let attr = rng.pick(&["emails", "members", "addresses"]);
                name.push_str(&random_case(rng, attr));
                let inner = gen_filter(rng, depth - 1, true);
                let tail = if rng.chance(40) {
                    format!(".value{}{}", ws(rng), rng.pick(&["pr", "eq \"v\"", "EW 1"]))
                } else {
                    String::new()
                };
                format!("{name}[{inner}]{tail}")
            }
        }
    }

    #[test]
    fn fuzz_generated_valid_filters_parse_and_round_trip() {
        let mut rng = Lcg(0x5eed_0004);
        for _ in 0..iterations(4000) {
            let input = gen_filter(&mut rng, 4, false);
            let f = parse_ok(&input);
            assert_round_trip(&input, &f);
        }
    }

    #[test]
    fn fuzz_string_escapes_decode_exactly() {
        let mut rng = Lcg(0x5eed_0005);
        for _ in 0..iterations(4000) {
            let (raw, enc) = gen_string(&mut rng);
            let input = format!("a eq {enc}");
            let f = parse_ok(&input);
            assert_eq!(
                f,
                Filter::Compare {
                    path: AttrPath::new("a"),
                    op: CompareOp::Eq,
                    value: Value::String(raw)
                },
                "{input:?}"
            );
            assert_round_trip(&input, &f);
        }
    }
}
