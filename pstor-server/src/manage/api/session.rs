//! Login, the session, logout (3.2, 3.3.3), the password change (3.2.1,
//! 3.3.1) and the API tokens of scripts.

use super::{Body, Id};
use crate::manage::auth::{self, Caller, Via, TOKEN_PREFIX};
use crate::manage::error::{ApiCode, ApiError, ApiResult};
use crate::manage::{audited, blocking, log_entry, Audit, OwnedLog, State};
use crate::meta::logs::{LogKind, LogLevel};
use crate::meta::users::{
    self, check_password_rules, hash_password, random_hex, token_hash, verify_password, SessionRow,
};
use axum::extract::{Request, State as S};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    user: String,
    password: String,
}

/// What the session is (the login answer and `GET /api/v1/session`).
#[derive(Debug, Serialize)]
pub(super) struct SessionView {
    user: String,
    /// Send it in `X-CSRF-Token` with every state-changing request.
    csrf_token: String,
    /// Only the password change is allowed until it is done.
    must_change_password: bool,
    /// The session ends after this many seconds without a request.
    idle_timeout_secs: i64,
    /// And at this time at the latest (µs UTC).
    expires_at: i64,
}

fn view(state: &State, row: &SessionRow) -> SessionView {
    SessionView {
        user: row.user.clone(),
        csrf_token: row.csrf.clone(),
        must_change_password: row.must_change,
        idle_timeout_secs: state.sessions.idle_secs(),
        expires_at: state.sessions.absolute_end(row),
    }
}

/// A hash that matches nothing, verified when the user does not exist so
/// that a wrong user name takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_hex(16)))
}

/// `POST /api/v1/session`: logs in; the cookie carries the session.
pub(super) async fn login(S(state): S<Arc<State>>, req: Request) -> Response {
    let ip = auth::peer_ip(&req);
    let Body(login) = match super::Body::<Login>::from_request_body(req, &state).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let user = login.user.clone();
    let resp = match do_login(&state, login, ip).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let mut resp = resp;
    resp.extensions_mut().insert(Audit { content: "login".into(), user: Some(user) });
    resp
}

async fn do_login(state: &Arc<State>, login: Login, ip: std::net::IpAddr) -> ApiResult<Response> {
    if let Some(secs) = state.lockout.locked(&login.user, ip) {
        return Err(ApiError::new(
            ApiCode::LockedOut,
            format!("too many failed logins for this user or from this address: try again in {secs} s"),
        )
        .retry_after(secs));
    }
    let st = Arc::clone(state);
    let name = login.user.clone();
    let found = blocking(move || {
        let row = st.db.user(&login.user)?;
        let ok = match &row {
            Some(u) => verify_password(&u.hash, &login.password),
            None => {
                verify_password(decoy_hash(), &login.password);
                false
            }
        };
        Ok(row.filter(|_| ok))
    })
    .await?;
    let Some(user) = found else {
        if state.lockout.failed(&name, ip) {
            let secs = state.lockout.cool_down_secs();
            tracing::warn!(user = %name, %ip, secs, "too many failed logins: logins refused for the cool-down");
            log_entry(
                &state.db,
                state.log_limits(),
                OwnedLog {
                    kind: LogKind::Operation,
                    level: LogLevel::Warning,
                    ip: ip.to_string(),
                    user: name.clone(),
                    content: format!("logins locked out for {secs} s after repeated failures"),
                    result: "locked out".into(),
                },
            )
            .await;
        }
        return Err(ApiError::new(ApiCode::BadCredentials, "wrong user name or password"));
    };
    state.lockout.succeeded(&name, ip);
    let st = Arc::clone(state);
    let new = blocking(move || st.sessions.create(&st.db, &user.name, user.must_change, ip)).await?;
    let max_age = (state.sessions.absolute_end(&new.row) - new.row.created_at) / 1_000_000;
    let cookie = auth::set_cookie(&new.token, max_age, state.secure_cookies());
    Ok(([(header::SET_COOKIE, cookie)], Json(view(state, &new.row))).into_response())
}

impl<T: serde::de::DeserializeOwned> Body<T> {
    /// Reads the body of a request taken whole (handlers that need the
    /// request's extensions too).
    pub(super) async fn from_request_body(req: Request, state: &Arc<State>) -> ApiResult<Body<T>> {
        <Body<T> as axum::extract::FromRequest<Arc<State>>>::from_request(req, state).await
    }
}

/// Checks the caller's password again (a password change, a secret's
/// download, a key reset; blocking), under the same lockout as logins:
/// a stolen session cannot guess the password faster than a login could.
pub(super) fn recheck_password(state: &State, caller: &Caller, password: &str) -> ApiResult<()> {
    if let Some(secs) = state.lockout.locked(&caller.user, caller.ip) {
        return Err(ApiError::new(
            ApiCode::LockedOut,
            format!("too many wrong passwords for this user or from this address: try again in {secs} s"),
        )
        .retry_after(secs));
    }
    let row = state
        .db
        .user(&caller.user)?
        .ok_or_else(|| ApiError::new(ApiCode::Unauthenticated, "the user no longer exists"))?;
    if verify_password(&row.hash, password) {
        state.lockout.succeeded(&caller.user, caller.ip);
        return Ok(());
    }
    if state.lockout.failed(&caller.user, caller.ip) {
        tracing::warn!(user = %caller.user, ip = %caller.ip, "too many wrong passwords: refused for the cool-down");
    }
    Err(ApiError::new(ApiCode::BadCredentials, "the password is wrong"))
}

fn session_of(state: &State, caller: &Caller) -> ApiResult<SessionRow> {
    match &caller.via {
        Via::Session(h) => {
            state.sessions.get(h).ok_or_else(|| ApiError::new(ApiCode::Unauthenticated, "the session ended"))
        }
        Via::Token(_) => {
            Err(ApiError::new(ApiCode::BadRequest, "this call is about a session; a bearer token has none"))
        }
    }
}

/// `GET /api/v1/session`.
pub(super) async fn current(
    S(state): S<Arc<State>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(view(&state, &session_of(&state, &caller)?)))
}

/// `DELETE /api/v1/session`: logout (3.3.3).
pub(super) async fn logout(S(state): S<Arc<State>>, Extension(caller): Extension<Caller>) -> ApiResult<Response> {
    let row = session_of(&state, &caller)?;
    let st = Arc::clone(&state);
    blocking(move || st.sessions.revoke(&st.db, &row.token_hash, &row.user)).await?;
    let cookie = auth::clear_cookie(state.secure_cookies());
    Ok(audited("logout", ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `PUT /api/v1/session/password`: needs the current password; ends the
/// user's other sessions and lifts the must-change flag of this one.
pub(super) async fn change_password(
    S(state): S<Arc<State>>,
    Extension(caller): Extension<Caller>,
    Body(change): Body<PasswordChange>,
) -> ApiResult<Response> {
    if let Err(why) = check_password_rules(&change.new_password) {
        return Err(ApiError::new(ApiCode::WeakPassword, why));
    }
    if change.new_password == change.current_password {
        return Err(ApiError::new(ApiCode::WeakPassword, "the new password must differ from the current one"));
    }
    let st = Arc::clone(&state);
    let keep = match caller.via {
        Via::Session(h) => Some(h),
        Via::Token(_) => None,
    };
    let user = caller.user.clone();
    blocking(move || {
        recheck_password(&st, &caller, &change.current_password)?;
        st.db.set_password(&user, &hash_password(&change.new_password), false)?;
        st.sessions.revoke_others(&st.db, &user, keep.as_ref())?;
        if user == users::ADMIN {
            let file = st.data_dir.join(crate::manage::INITIAL_PASSWORD_FILE);
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| {
                    ApiError::engine(pstor_core::ErrorCode::Io, format!("removing {}: {e}", file.display()))
                })?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(audited("changed the password (other sessions ended)", StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewToken {
    name: String,
}

/// `GET /api/v1/tokens`: the API tokens (never the tokens themselves).
pub(super) async fn tokens(S(state): S<Arc<State>>) -> ApiResult<Json<Vec<users::TokenRow>>> {
    Ok(Json(blocking(move || Ok(state.db.tokens()?)).await?))
}

/// `POST /api/v1/tokens`: a new bearer token, shown once.
pub(super) async fn create_token(
    S(state): S<Arc<State>>,
    Extension(caller): Extension<Caller>,
    Body(new): Body<NewToken>,
) -> ApiResult<Response> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::new(ApiCode::BadRequest, "a token's name is 1 to 64 characters"));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_hex(32));
    let (t, n, u) = (token.clone(), name.clone(), caller.user.clone());
    let id = blocking(move || Ok(state.db.insert_token(&n, &token_hash(&t), &u)?)).await?;
    let body = serde_json::json!({ "id": id, "name": name, "token": token });
    Ok(audited(format!("created API token {name:?} (id {id})"), (StatusCode::CREATED, Json(body))))
}

/// `DELETE /api/v1/tokens/{id}`: revokes a token at once.
pub(super) async fn revoke_token(S(state): S<Arc<State>>, Id(id): Id<i64>) -> ApiResult<Response> {
    let found = blocking(move || Ok(state.db.delete_token(id)?)).await?;
    if !found {
        return Err(ApiError::new(ApiCode::NotFound, format!("no API token {id}")));
    }
    Ok(audited(format!("revoked API token {id}"), StatusCode::NO_CONTENT))
}
