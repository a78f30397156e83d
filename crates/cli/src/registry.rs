//! The field registry (kept in `wiresift-session`, shared with the UI) and `-Y` compilation.

pub use wiresift_session::registry;

/// Compiles a `-Y` expression against the registry. On error, prints it as Wireshark does,
/// better (the expression, a caret under the column, the closest field names) and returns
/// `Err(())`: the caller exits with status 2.
pub fn compile_display_filter(expr: Option<&str>) -> Result<Option<wiresift_filter::Filter>, ()> {
    let Some(expr) = expr else { return Ok(None) };
    match wiresift_filter::Filter::compile(expr, registry()) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            eprintln!("wiresift: bad display filter:\n{}", e.render(expr));
            Err(())
        }
    }
}
