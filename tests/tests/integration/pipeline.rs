//! The emulated pipeline the event tests share: the table with its stream, an EventBridge
//! bus whose rule delivers to an SQS queue (standing in for the consumers), SES, and the
//! stream publisher's poison queue.

use ally::events::bus::EventBridgeBus;
use ally::events::mail::SesMailer;
use ally::events::parking::SqsParking;
use ally::store::dynamo::DynamoStore;
use ally::{Ally, Config};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};

pub const SENDER: &str = "ally@ally.example";

pub struct Pipeline {
    pub ally: Ally<DynamoStore>,
    pub bus: EventBridgeBus,
    /// The bus's name, for another client on it.
    pub bus_name: String,
    pub mailer: SesMailer,
    /// The queue the low-credit rule delivers to (standing in for the notifier).
    pub queue_url: String,
    pub sqs: aws_sdk_sqs::Client,
    /// The stream publisher's poison queue.
    pub poison: SqsParking,
    pub poison_url: String,
}

pub async fn pipeline(config: Config) -> Pipeline {
    let sdk = ally_tests::sdk_config();
    let name = format!("ally-{}", ulid::Ulid::new().to_string().to_lowercase());
    let eventbridge = aws_sdk_eventbridge::Client::new(&sdk);
    eventbridge.create_event_bus().name(&name).send().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs.create_queue().queue_name(&name).send().await.unwrap().queue_url.unwrap();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attributes.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    // The template's rule for the notifier, with the queue standing in for the function,
    // and the events a team's payment system and admins listen to.
    let listened = [
        "LowCredit",
        "CreditThresholdCrossed",
        "LowRunway",
        "AutoTopUpFailed",
        "AutoTopUpRequested",
        "TierUpgradeSuggested",
    ];
    eventbridge
        .put_rule()
        .name("low-credit")
        .event_bus_name(&name)
        .event_pattern(json!({"source": ["ally"], "detail-type": listened}).to_string())
        .send()
        .await
        .unwrap();
    eventbridge
        .put_targets()
        .rule("low-credit")
        .event_bus_name(&name)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build().unwrap())
        .send()
        .await
        .unwrap();
    let ses = aws_sdk_sesv2::Client::new(&sdk);
    ses.create_email_identity().email_identity(SENDER).send().await.unwrap();
    let poison_url = sqs.create_queue().queue_name(format!("{name}-poison")).send().await.unwrap().queue_url.unwrap();
    Pipeline {
        poison: SqsParking::new(sqs.clone(), Some(poison_url.clone())),
        poison_url,
        ally: Ally::new(ally_tests::dynamo_store_with(ally::store::dynamo::ChangeStream::On).await, config),
        bus: EventBridgeBus::new(eventbridge, name.clone()),
        bus_name: name,
        mailer: SesMailer::new(ses, SENDER, 1_000),
        queue_url,
        sqs,
    }
}

/// Events the rule delivered to the queue.
pub async fn delivered(p: &Pipeline) -> Vec<EventBridgeEvent<Value>> {
    drained(p, &p.queue_url).await.iter().map(|body| serde_json::from_str(body).unwrap()).collect()
}

/// Every message body of the queue at `url`, which is left empty.
pub async fn drained(p: &Pipeline, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let got = p.sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push(m.body.unwrap_or_default());
            p.sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle.unwrap()).send().await.unwrap();
        }
    }
}

/// Mail SES recorded, as moto's API shows it: (to, subject).
pub fn sent_mail(to: &str) -> Vec<String> {
    let port: u16 = ally_tests::emulator_endpoint().rsplit(':').next().unwrap().parse().unwrap();
    let (status, body) = ally_tests::http_request(port, "GET", "/moto-api/data.json", &[], "");
    assert_eq!(status, 200);
    let data: Value = serde_json::from_str(&body).unwrap();
    let mut out = Vec::new();
    for message in data["ses"]["Message"].as_array().into_iter().flatten() {
        let recipients = &message["destinations"]["ToAddresses"];
        if recipients.as_array().into_iter().flatten().any(|r| r == to) {
            out.push(message["subject"].as_str().unwrap_or("").to_string());
        }
    }
    out
}
