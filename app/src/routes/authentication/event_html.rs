//! The event log and a test's result, rendered on the server and shown by the
//! page as they come (`inner_html`). They are static: no control in them needs
//! the browser's code. Rendering them here keeps the diagnosis catalogue (what
//! each failure means and how to fix it) and these views out of the WASM the
//! connection page downloads. Every value is escaped as in any server render:
//! the attributes an identity provider sends are its own text, never markup.

use crate::components::request_id::RequestId;
use leptos::prelude::*;
use shared::sso_event::{SsoEvent, SsoEventKind};
use shared::time::format_utc;

/// The list of recent sign-ins and tests, newest first, or what to do when
/// there is none.
pub fn event_log_html(events: Vec<SsoEvent>) -> String {
    if events.is_empty() {
        return view! {
            <p class="mt-3 text-sm text-slate-600">"No sign-ins or tests yet. Run Test Connection to see the first one here."</p>
        }
        .to_html();
    }
    view! { <EventTable list=events/> }.to_html()
}

/// One test's result, as Test Connection shows it.
pub fn test_result_html(event: SsoEvent) -> String {
    view! { <TestResult event/> }.to_html()
}

/// A test's outcome: who signed in and every attribute, or what went wrong,
/// what it means, how to fix it, and expected beside received.
#[component]
fn TestResult(event: SsoEvent) -> impl IntoView {
    let attributes =
        (!event.attributes.is_empty()).then(|| view! { <Attributes event=event.clone()/> });
    match event.diagnosis.clone() {
        None => view! {
            <div data-testid="test-result" data-outcome="success" class="mt-4 rounded-lg border border-emerald-200 bg-emerald-50 p-4">
                <p class="font-semibold text-emerald-900">"Test passed"</p>
                <p class="mt-1 text-sm text-emerald-900">
                    "Signed in as " <strong data-testid="test-email">{event.email.clone()}</strong>
                    {person_name(&event).map(|n| format!(" ({n})"))}
                    ". Members can sign in through this connection."
                </p>
                <p class="mt-1 text-xs text-emerald-800">"Subject (NameID / sub): " <code>{event.subject.clone()}</code></p>
                <RequestId id=event.request_id.clone()/>
                {attributes}
            </div>
        }
        .into_any(),
        Some(diagnosis) => view! {
            <div data-testid="test-result" data-outcome="failure" data-code=diagnosis.code.code() class="mt-4 rounded-lg border border-red-200 bg-red-50 p-4">
                <p class="font-semibold text-red-900">{diagnosis.title()}</p>
                <p class="mt-1 font-mono text-xs text-red-800">{diagnosis.code.code()}</p>
                <dl class="mt-3 space-y-2 text-sm">
                    <div>
                        <dt class="font-medium text-slate-900">"What it means"</dt>
                        <dd class="text-slate-700">{diagnosis.meaning()}</dd>
                    </div>
                    <div>
                        <dt class="font-medium text-slate-900">"How to fix it"</dt>
                        <dd class="text-slate-700">{diagnosis.fix()}</dd>
                    </div>
                </dl>
                {(diagnosis.expected.is_some() || diagnosis.received.is_some()).then(|| view! {
                    <table class="mt-3 w-full table-fixed text-left text-sm" aria-label="Expected and received">
                        <thead>
                            <tr class="text-xs uppercase tracking-wide text-slate-600">
                                <th class="w-1/2 pb-1">"Expected"</th>
                                <th class="w-1/2 pb-1">"Received"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <tr class="align-top">
                                <td data-testid="expected" class="wrap-anywhere pr-3 font-mono text-xs">{diagnosis.expected.clone()}</td>
                                <td data-testid="received" class="wrap-anywhere font-mono text-xs">{diagnosis.received.clone()}</td>
                            </tr>
                        </tbody>
                    </table>
                })}
                {diagnosis.detail.clone().map(|d| view! { <p class="mt-2 text-sm text-slate-700">{d}</p> })}
                <p class="mt-2 text-xs text-slate-600">"Reference " {event.reference.clone()}</p>
                <RequestId id=event.request_id.clone()/>
                {attributes}
            </div>
        }
        .into_any(),
    }
}

fn person_name(event: &SsoEvent) -> Option<String> {
    let name = format!("{} {}", event.first_name, event.last_name)
        .trim()
        .to_string();
    (!name.is_empty()).then_some(name)
}

#[component]
fn Attributes(event: SsoEvent) -> impl IntoView {
    view! {
        <table class="mt-3 w-full text-left text-sm" aria-label="Attributes received">
            <caption class="pb-1 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
                "Attributes received"
            </caption>
            <tbody>
                {event
                    .attributes
                    .into_iter()
                    .map(|a| view! {
                        <tr class="border-t border-slate-200 align-top">
                            <th scope="row" class="break-all py-1 pr-3 font-mono text-xs font-normal text-slate-600">{a.name}</th>
                            <td class="break-all py-1 font-mono text-xs">{a.values.join(", ")}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn EventTable(list: Vec<SsoEvent>) -> impl IntoView {
    view! {
        <ul class="mt-3 divide-y divide-slate-200" aria-label="Sign-in events">
            {list
                .into_iter()
                .map(|event| {
                    let outcome = match &event.diagnosis {
                        None => "Success".to_string(),
                        Some(d) => d.code.code().to_string(),
                    };
                    let who = if event.email.is_empty() { event.subject.clone() } else { event.email.clone() };
                    view! {
                        <li class="py-2" data-kind=event.kind.key() data-outcome=if event.success { "success" } else { "failure" }>
                            <details>
                                <summary class="flex cursor-pointer flex-wrap items-center gap-x-3 gap-y-1 text-sm">
                                    <span class="font-mono text-xs text-slate-500">{format_utc(event.at)}</span>
                                    <span class="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{event.kind.label()}</span>
                                    <span class=if event.success { "font-medium text-emerald-700" } else { "font-mono text-xs font-medium text-red-700" }>
                                        {outcome}
                                    </span>
                                    <span class="text-slate-700">{who}</span>
                                    <span class="ml-auto font-mono text-xs text-slate-500">{event.reference.clone()}</span>
                                </summary>
                                <EventDetail event=event.clone()/>
                            </details>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

#[component]
fn EventDetail(event: SsoEvent) -> impl IntoView {
    if event.kind == SsoEventKind::Test || event.diagnosis.is_some() {
        view! { <TestResult event/> }.into_any()
    } else {
        view! {
            <div class="mt-2 text-sm">
                <p>"Signed in " {event.email.clone()} " · subject " <code>{event.subject.clone()}</code></p>
                <RequestId id=event.request_id.clone()/>
                <Attributes event/>
            </div>
        }
        .into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::sso_event::ReceivedAttribute;
    use shared::{Diagnosis, DiagnosisCode};

    /// What an identity provider controls, with markup in every field.
    const MARKUP: &str = "<img src=x onerror=alert(1)>";
    const ESCAPED: &str = "&lt;img src=x onerror=alert(1)&gt;";

    fn hostile_event(kind: SsoEventKind, diagnosis: Option<Diagnosis>) -> SsoEvent {
        SsoEvent {
            id: "01".into(),
            at: 1_764_000_000,
            kind,
            success: diagnosis.is_none(),
            reference: "ABCD1234".into(),
            subject: MARKUP.into(),
            email: MARKUP.into(),
            first_name: MARKUP.into(),
            last_name: String::new(),
            attributes: vec![ReceivedAttribute {
                name: MARKUP.into(),
                values: vec![MARKUP.into()],
            }],
            diagnosis,
            request_id: Some(MARKUP.into()),
        }
    }

    /// How many escaped copies of `MARKUP` the HTML holds, and how many raw tags.
    fn escaped_copies(html: &str) -> (usize, usize) {
        (html.matches(ESCAPED).count(), html.matches("<img").count())
    }

    #[test]
    fn what_the_identity_provider_sent_is_text_in_the_event_log() {
        let signed_in = hostile_event(SsoEventKind::SignIn, None);
        let refused = hostile_event(
            SsoEventKind::Test,
            Some(
                Diagnosis::new(DiagnosisCode::AudienceMismatch)
                    .with_expected("https://sp.example/metadata")
                    .with_received(MARKUP),
            ),
        );
        // Sign-in: email in the summary and the detail, subject, request id, attribute name and value.
        assert_eq!(escaped_copies(&event_log_html(vec![signed_in])), (6, 0));
        // Test failure: what was received, the request id, attribute name and value;
        // in the log, the email in the summary as well.
        assert_eq!(escaped_copies(&test_result_html(refused.clone())), (4, 0));
        assert_eq!(escaped_copies(&event_log_html(vec![refused])), (5, 0));
    }

    #[test]
    fn an_empty_log_says_how_to_fill_it() {
        // `<!>` is the renderer's mark of where a text ends, for hydration; it
        // is an empty comment to the browser.
        assert_eq!(
            event_log_html(Vec::new()).replace("<!>", ""),
            r#"<p class="mt-3 text-sm text-slate-600">No sign-ins or tests yet. Run Test Connection to see the first one here.</p>"#
        );
    }
}
