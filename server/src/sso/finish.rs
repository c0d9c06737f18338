//! How every SSO answer ends, whichever the protocol: a member is signed in
//! (just-in-time account, session, event, audit row), a member is refused
//! (event with a reference, audit row, plain error page), or an admin's test
//! is recorded for the Test Connection panel.

use super::accounts::{self as jit, JitError, Reached, SsoPerson, Subject};
use super::events::{self, NewEvent};
use super::identities::{self, Origin};
use super::replay::Claim;
use super::requests::{PendingRequest, Purpose};
use super::SsoService;
use crate::audit::{self, Actor, AuditAction, AuditEntry};
use crate::db::{is_unique_violation, Script};
use crate::entities::organization;
use crate::entities::sso_connection::{self, Model as Connection};
use crate::group_commit::Undo;
use crate::sessions::{self, IdpSession, SignInMethod, SESSION_LIFETIME};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, DbErr, EntityTrait, IntoActiveModel, Set};
use serde_json::json;
use shared::sso_event::{ReceivedAttribute, SsoEventKind};
use shared::Diagnosis;
use std::net::IpAddr;
use uuid::Uuid;

/// What the answer to an SSO request leads to.
#[derive(Debug)]
pub enum SsoOutcome {
    /// A member is signed in: set the cookie, go on.
    SignedIn {
        token: String,
        max_age_secs: i64,
        redirect_to: String,
    },
    /// A test finished, well or not: the popup tells its opener.
    TestFinished { event_id: Uuid },
    /// An admin linked their identity at the IdP to their account: back to settings.
    Linked { redirect_to: String },
    /// A member's sign-in failed: show the plain error page.
    Refused {
        diagnosis: Diagnosis,
        reference: String,
    },
    /// No connection of this protocol has this ID.
    UnknownConnection,
}

/// What a verified SAML assertion or ID token says, in protocol-neutral terms.
#[derive(Debug, Clone)]
pub struct Vouched {
    /// The SAML NameID or the OIDC `sub`.
    pub subject: String,
    /// Everything received, for the event log and Test Connection.
    pub attributes: Vec<ReceivedAttribute>,
    /// The person, read through the connection's mapping; or why that failed.
    pub person: Result<SsoPerson, Diagnosis>,
    /// What ending the IdP's session later takes (single logout).
    pub idp_session: IdpSession,
    /// What makes the answer single-use, recorded with what it leads to. None
    /// for OIDC, whose `state` is used up as the callback arrives.
    pub claim: Option<Claim>,
}

/// A failure on its way out, with what the identity provider vouched for so far.
#[derive(Debug)]
pub struct Failure {
    pub diagnosis: Diagnosis,
    pub vouched: Option<Vouched>,
}

impl From<Diagnosis> for Failure {
    fn from(diagnosis: Diagnosis) -> Self {
        Failure {
            diagnosis,
            vouched: None,
        }
    }
}

/// What the pending request started, so what its answer leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    SignIn,
    Test,
    /// An Integrations Admin's "Link my SSO identity", from their own session.
    Link {
        admin_user_id: Uuid,
    },
}

impl Ending {
    /// No pending request (IdP-initiated) is a sign-in.
    pub fn of(pending: Option<&PendingRequest>) -> Self {
        match pending {
            Some(p) if p.purpose == Purpose::Test => Ending::Test,
            Some(p) if p.purpose == Purpose::Link => match p.admin_user_id {
                Some(admin_user_id) => Ending::Link { admin_user_id },
                // A link request always names its admin; without one it signs nobody in.
                None => Ending::Test,
            },
            _ => Ending::SignIn,
        }
    }
}

/// The protocol-specific bits the common ending records.
#[derive(Debug, Clone, Copy)]
pub struct Via {
    pub method: SignInMethod,
    pub client_ip: Option<IpAddr>,
}

impl SsoService {
    /// Ends a sign-in or test with what the protocol check produced.
    pub(super) async fn finish(
        &self,
        connection: &Connection,
        org: &organization::Model,
        ending: Ending,
        result: Result<Vouched, Failure>,
        return_to: String,
        via: Via,
    ) -> Result<SsoOutcome, DbErr> {
        match (ending, result) {
            (Ending::Test, result) => self.finish_test(connection, result).await,
            (Ending::Link { admin_user_id }, Ok(vouched)) => {
                self.link(connection, admin_user_id, vouched, via).await
            }
            (Ending::SignIn, Ok(vouched)) => {
                self.sign_in(connection, org, vouched, return_to, via).await
            }
            (_, Err(failure)) => self.refuse(connection, failure, via).await,
        }
    }

    async fn sign_in(
        &self,
        connection: &Connection,
        org: &organization::Model,
        vouched: Vouched,
        return_to: String,
        via: Via,
    ) -> Result<SsoOutcome, DbErr> {
        let person = match &vouched.person {
            Ok(person) => person.clone(),
            Err(diagnosis) => {
                let failure = Failure {
                    diagnosis: diagnosis.clone(),
                    vouched: Some(vouched),
                };
                return self.refuse(connection, failure, via).await;
            }
        };
        let from = Subject {
            connection,
            subject: &vouched.subject,
        };
        let (reached, claim) = match self
            .reach(org, from, &person, vouched.claim.clone())
            .await?
        {
            Ok(reached) => reached,
            // The refusal makes the claim only if it is still to be made.
            Err((diagnosis, unmade)) => {
                let failure = Failure {
                    diagnosis,
                    vouched: Some(Vouched {
                        claim: unmade,
                        ..vouched
                    }),
                };
                return self.refuse(connection, failure, via).await;
            }
        };
        let account = reached.account;
        let vouched_session = vouched.idp_session.clone();
        // For the event of a refusal, should the claim turn out to be made already.
        let kept = claim.as_ref().map(|_| Vouched {
            claim: None,
            ..vouched.clone()
        });
        let mut event = success_event(connection, SsoEventKind::SignIn, vouched, person);
        event.user_id = Some(account.user.id);
        // The claim, the member's new names, the event, the session and its
        // audit row, all or nothing, in the group commit's next transaction
        // (`commit_sign_in`). None of them changes a row another writes, so
        // on PostgreSQL they go as one statement.
        let mut script = Script::independent(self.db.get_database_backend());
        if let Some(claim) = &claim {
            claim.push(&mut script);
        }
        if let Some(rename) = &reached.rename {
            script.push(rename);
        }
        events::push(&mut script, event);
        let token = sessions::push_open_via_sso(
            &mut script,
            account.user.id,
            org.id,
            (via.method, connection.id, vouched_session),
            via.client_ip,
        );
        audit::push(
            &mut script,
            AuditEntry {
                org_id: Some(org.id),
                actor: Actor::User {
                    id: account.user.id,
                    email: account.user.email.clone(),
                },
                action: AuditAction::SignIn,
                success: true,
                detail: json!({ "method": via.method.as_str(), "connection_id": connection.id }),
                client_ip: via.client_ip,
            },
        );
        match (self.commit_sign_in(account.user.id, script).await, claim) {
            (Ok(()), _) => {}
            (Err(error), Some(used)) if is_unique_violation(&error) => {
                let failure = Failure {
                    diagnosis: used.refusal(),
                    vouched: kept,
                };
                return self.refuse(connection, failure, via).await;
            }
            (Err(error), _) => return Err(error),
        }
        crate::metrics::record_sign_in(&connection.protocol, None);
        Ok(SsoOutcome::SignedIn {
            token,
            max_age_secs: SESSION_LIFETIME.num_seconds(),
            redirect_to: return_to,
        })
    }

    /// Writes a sign-in's rows in one commit with the other writes waiting
    /// (`group_commit`), and answers once they are durable. A commit of its
    /// own for each sign-in cost more: on SQLite every commit also empties
    /// the page cache of each reader that reads after it. On PostgreSQL the
    /// rows go as one statement, which is a commit of its own in one round
    /// trip; in a batch it took four (BEGIN, SAVEPOINT, the statement, COMMIT).
    async fn commit_sign_in(&self, user_id: Uuid, script: Script) -> Result<(), DbErr> {
        if script.goes_as_one_statement() {
            return script.commit(&self.db).await;
        }
        self.writes
            .write_with(user_id.as_bytes(), Undo::Script, move |change| {
                Box::pin(async move { change.run(script).await.map(Ok) })
            })
            .await
    }

    /// The account a sign-in reaches and the claim still to be made with its
    /// session; or why it is refused and the claim the refusal must still
    /// make. A returning member's account is read without writing, so the
    /// claim goes with the session: one write. A first sign-in creates or
    /// binds an account, so the claim is made before: a replay cannot bring
    /// back an account that was deleted since.
    async fn reach(
        &self,
        org: &organization::Model,
        from: Subject<'_>,
        person: &SsoPerson,
        claim: Option<Claim>,
    ) -> Result<Result<(Reached, Option<Claim>), (Diagnosis, Option<Claim>)>, DbErr> {
        let (found, unmade) = match jit::find_bound(&self.db, org, from, person).await {
            Ok(Some(reached)) => return Ok(Ok((reached, claim))),
            Ok(None) => {
                if let Some(used) = &claim {
                    if !used.record(&self.db).await? {
                        return Ok(Err((used.refusal(), None)));
                    }
                }
                (jit::find_or_create(&self.db, org, from, person).await, None)
            }
            Err(error) => (Err(error), claim),
        };
        match found {
            Ok(reached) => Ok(Ok((reached, None))),
            Err(JitError::Refused(diagnosis)) => Ok(Err((diagnosis, unmade))),
            Err(JitError::Database(error)) => Err(error),
            Err(JitError::Account(error)) => Err(DbErr::Custom(error.to_string())),
        }
    }

    /// Binds the subject the IdP vouched for to the admin who started the link
    /// from their own session, replacing their earlier link on this connection.
    /// A subject already bound to someone else stays theirs.
    async fn link(
        &self,
        connection: &Connection,
        admin_user_id: Uuid,
        vouched: Vouched,
        via: Via,
    ) -> Result<SsoOutcome, DbErr> {
        if let Some(used) = self.claim_refused(vouched.claim.as_ref()).await? {
            let failure = Failure {
                diagnosis: used,
                vouched: Some(vouched),
            };
            return self.refuse(connection, failure, via).await;
        }
        if let Some(owner) = identities::by_subject(&self.db, connection.id, &vouched.subject)
            .await?
            .filter(|identity| identity.user_id != admin_user_id)
        {
            let diagnosis = shared::Diagnosis::new(shared::DiagnosisCode::IdentityConflict)
                .with_expected(format!("{} not linked to another account", vouched.subject))
                .with_received(format!("linked to account {}", owner.user_id));
            let failure = Failure {
                diagnosis,
                vouched: Some(vouched),
            };
            return self.refuse(connection, failure, via).await;
        }
        let (txn, _turn) = crate::db::begin_write(&self.db).await?;
        identities::unbind_user(&txn, connection.id, admin_user_id).await?;
        identities::bind(
            &txn,
            connection.org_id,
            connection.id,
            &vouched.subject,
            admin_user_id,
            Origin::AdminLink,
        )
        .await?;
        let admin = crate::entities::user::Entity::find_by_id(admin_user_id)
            .one(&txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("user".into()))?;
        audit::record(
            &txn,
            AuditEntry {
                org_id: Some(connection.org_id),
                actor: Actor::User {
                    id: admin.id,
                    email: admin.email.clone(),
                },
                action: AuditAction::SsoIdentityLinked,
                success: true,
                detail: json!({ "connection_id": connection.id, "subject": vouched.subject }),
                client_ip: via.client_ip,
            },
        )
        .await?;
        txn.commit().await?;
        Ok(SsoOutcome::Linked {
            redirect_to: format!("/settings/authentication?connection={}", connection.id),
        })
    }

    async fn refuse(
        &self,
        connection: &Connection,
        failure: Failure,
        via: Via,
    ) -> Result<SsoOutcome, DbErr> {
        // A verified assertion is used once, even when it signs nobody in.
        if let Some(claim) = failure.vouched.as_ref().and_then(|v| v.claim.as_ref()) {
            claim.record(&self.db).await?;
        }
        let code = failure.diagnosis.code;
        let email = failure
            .vouched
            .as_ref()
            .and_then(|v| v.person.as_ref().ok())
            .map(|p| p.email.clone())
            .unwrap_or_default();
        let (_, reference) = events::record(
            &self.db,
            failure_event(connection, SsoEventKind::SignIn, &failure),
        )
        .await?;
        crate::metrics::record_sign_in(&connection.protocol, Some(code));
        audit::record(
            &self.db,
            AuditEntry {
                org_id: Some(connection.org_id),
                actor: Actor::Anonymous {
                    claimed_email: email,
                },
                action: AuditAction::SignInFailed,
                success: false,
                detail: json!({
                    "method": via.method.as_str(),
                    "connection_id": connection.id,
                    "code": code.code(),
                    "reference": reference,
                }),
                client_ip: via.client_ip,
            },
        )
        .await?;
        Ok(SsoOutcome::Refused {
            diagnosis: failure.diagnosis,
            reference,
        })
    }

    /// Makes the claim of an answer that signs nobody in; why it is refused
    /// when it was made already.
    async fn claim_refused(&self, claim: Option<&Claim>) -> Result<Option<Diagnosis>, DbErr> {
        match claim {
            Some(claim) if !claim.record(&self.db).await? => Ok(Some(claim.refusal())),
            _ => Ok(None),
        }
    }

    async fn finish_test(
        &self,
        connection: &Connection,
        result: Result<Vouched, Failure>,
    ) -> Result<SsoOutcome, DbErr> {
        let refused = match &result {
            Ok(vouched) => self.claim_refused(vouched.claim.as_ref()).await?,
            Err(_) => None,
        };
        let result = match (result, refused) {
            (Ok(vouched), Some(diagnosis)) => Err(Failure {
                diagnosis,
                vouched: Some(Vouched {
                    claim: None,
                    ..vouched
                }),
            }),
            (result, _) => result,
        };
        let event = match result {
            Ok(vouched) => match vouched.person.clone() {
                Ok(person) => success_event(connection, SsoEventKind::Test, vouched, person),
                Err(diagnosis) => failure_event(
                    connection,
                    SsoEventKind::Test,
                    &Failure {
                        diagnosis,
                        vouched: Some(vouched),
                    },
                ),
            },
            Err(failure) => failure_event(connection, SsoEventKind::Test, &failure),
        };
        let passed = event.outcome.is_ok();
        let (event_id, _) = events::record(&self.db, event).await?;
        if passed {
            mark_tested(&self.db, connection).await?;
        }
        Ok(SsoOutcome::TestFinished { event_id })
    }
}

fn success_event(
    connection: &Connection,
    kind: SsoEventKind,
    vouched: Vouched,
    person: SsoPerson,
) -> NewEvent {
    NewEvent {
        connection_id: connection.id,
        org_id: connection.org_id,
        kind,
        subject: vouched.subject,
        email: person.email,
        first_name: person.first_name,
        last_name: person.last_name,
        attributes: vouched.attributes,
        user_id: None,
        outcome: Ok(()),
    }
}

fn failure_event(connection: &Connection, kind: SsoEventKind, failure: &Failure) -> NewEvent {
    let mut event = NewEvent::failure(
        connection.id,
        connection.org_id,
        kind,
        failure.diagnosis.clone(),
    );
    if let Some(vouched) = &failure.vouched {
        event.subject = vouched.subject.clone();
        event.attributes = vouched.attributes.clone();
        if let Ok(person) = &vouched.person {
            event.email = person.email.clone();
            event.first_name = person.first_name.clone();
            event.last_name = person.last_name.clone();
        }
    }
    event
}

/// A passed test is what "Require SSO" waits for.
async fn mark_tested(
    db: &sea_orm::DatabaseConnection,
    connection: &Connection,
) -> Result<(), DbErr> {
    let mut model: sso_connection::ActiveModel = connection.clone().into_active_model();
    model.tested_at = Set(Some(Utc::now()));
    model.update(db).await?;
    Ok(())
}
