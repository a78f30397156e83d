//! Wireshark display filters (`-Y`): compiled once against the field [`Registry`], evaluated
//! per frame over a [`FieldSource`] without allocating.
//!
//! Pipeline: [`lexer`] (words, strings, operators) → [`parser`] (syntax tree with byte spans) →
//! [`typecheck`] (words resolved to fields or typed literals, operand types checked, regexes
//! built) → [`eval`] (callback-driven walk of the compiled tree). Every compile error carries the
//! byte span of the offending text, so the CLI can underline it like Wireshark does.
//!
//! The language reference, and where it differs from Wireshark, is `docs/display-filters.md`.
#![forbid(unsafe_code)]

mod ast;
mod error;
mod eval;
mod ir;
mod lexer;
mod literal;
mod parser;
mod typecheck;

#[cfg(test)]
mod tests;

use wiresift_field::{FieldId, FieldSource, Registry};

pub use error::FilterError;

/// A compiled display filter.
#[derive(Debug)]
pub struct Filter {
    root: ir::Node,
    fields: Vec<FieldId>,
}

impl Filter {
    /// Parses and type-checks `expr` against `reg`.
    pub fn compile(expr: &str, reg: &Registry) -> Result<Filter, FilterError> {
        let tokens = lexer::lex(expr)?;
        let ast = parser::parse(&tokens)?;
        let mut checker = typecheck::Checker::new(reg);
        let root = checker.expr(&ast)?;
        Ok(Filter {
            root,
            fields: checker.fields,
        })
    }

    /// Whether the frame whose fields `src` provides passes the filter.
    pub fn matches(&self, src: &dyn FieldSource) -> bool {
        eval::eval(&self.root, src)
    }

    /// Every field the expression references, each once, in order of first appearance, so a
    /// decoder can skip work no filter needs.
    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }
}
