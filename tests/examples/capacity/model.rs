//! The capacity model: each item write as the table's stream saw it (old and new image),
//! attributed to the operation that made it, the index writes it causes under the indexes
//! `template.yaml` declares (keys and projections), and the units of both.

use std::collections::{HashMap, VecDeque};

use serde_dynamo::AttributeValue as StreamValue;

use crate::record::{Label, Write};

/// A global secondary index as `template.yaml` declares it.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub pk: String,
    pub sk: String,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
    pub include: Vec<String>,
}

/// The indexes of `template.yaml`'s table, read from its `GlobalSecondaryIndexes` block.
pub fn indexes(template: &str) -> Vec<Index> {
    let mut out: Vec<Index> = Vec::new();
    let mut inside = false;
    for line in template.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("GlobalSecondaryIndexes:") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if !trimmed.is_empty() && !trimmed.starts_with('#') && !line.starts_with("        ") {
            break;
        }
        if let Some(name) = trimmed.strip_prefix("- IndexName:") {
            out.push(Index {
                name: name.trim().into(),
                pk: String::new(),
                sk: String::new(),
                projection: String::new(),
                include: Vec::new(),
            });
        } else if let Some(index) = out.last_mut() {
            let attribute = |t: &str| {
                t.split("AttributeName:").nth(1).and_then(|r| r.split(',').next()).map(|a| a.trim().to_string())
            };
            if trimmed.contains("KeyType: HASH") {
                index.pk = attribute(trimmed).unwrap_or_default();
            } else if trimmed.contains("KeyType: RANGE") {
                index.sk = attribute(trimmed).unwrap_or_default();
            } else if let Some(projection) = trimmed.strip_prefix("Projection:") {
                index.projection = projection
                    .split("ProjectionType:")
                    .nth(1)
                    .and_then(|r| r.split([',', '}']).next())
                    .unwrap_or("")
                    .trim()
                    .into();
                if let Some(list) = projection.split("NonKeyAttributes:").nth(1) {
                    index.include = list
                        .trim_matches(|c: char| c == ' ' || c == '[' || c == ']' || c == '}')
                        .split(',')
                        .map(|a| a.trim().trim_end_matches(']').to_string())
                        .filter(|a| !a.is_empty())
                        .collect();
                }
            }
        }
    }
    out
}

type Image = HashMap<String, StreamValue>;

fn size(image: &Image) -> usize {
    image.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

fn value_size(value: &StreamValue) -> usize {
    match value {
        StreamValue::S(text) => text.len(),
        StreamValue::N(number) => number.trim_start_matches('-').len().div_ceil(2) + 1,
        StreamValue::B(blob) => blob.len(),
        StreamValue::Bool(_) | StreamValue::Null(_) => 1,
        StreamValue::M(map) => 3 + map.iter().map(|(k, v)| k.len() + value_size(v)).sum::<usize>(),
        StreamValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        StreamValue::Ss(set) => set.iter().map(String::len).sum(),
        StreamValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        StreamValue::Bs(set) => set.iter().map(Vec::len).sum(),
    }
}

fn text(image: &Image, name: &str) -> Option<String> {
    match image.get(name) {
        Some(StreamValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The part of `image` that `index` holds, if the item is in the index.
fn projected(index: &Index, image: &Image) -> Option<Image> {
    text(image, &index.pk)?;
    text(image, &index.sk)?;
    let keep = |name: &str| match index.projection.as_str() {
        "ALL" => true,
        _ => {
            [index.pk.as_str(), index.sk.as_str(), "pk", "sk"].contains(&name)
                || index.include.iter().any(|i| i == name)
        }
    };
    Some(image.iter().filter(|(name, _)| keep(name)).map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Write units of one write of `bytes`: 1 KB a unit.
fn wcu(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// One unit-bearing write on a partition of the table or an index.
#[derive(Debug, Clone)]
pub struct PartitionWrite {
    pub label: Label,
    /// `table` or the index name.
    pub target: String,
    pub partition: String,
    pub wcu: f64,
}

/// Everything one stream record (one item write) costs, attributed to its operation.
#[derive(Debug, Clone)]
pub struct ItemWrite {
    pub label: Label,
    pub key: (String, String),
    pub bytes: usize,
    pub writes: Vec<PartitionWrite>,
}

/// The item writes of the stream, attributed to the recorded calls: the n-th record of a key
/// is the n-th recorded write of that key (the workload runs one operation at a time).
pub fn attribute(records: &[(Image, Image)], calls: &[Write], indexes: &[Index]) -> Vec<ItemWrite> {
    let mut queue: HashMap<(String, String), VecDeque<&Write>> = HashMap::new();
    for call in calls {
        queue.entry(call.key.clone()).or_default().push_back(call);
    }
    let mut out = Vec::with_capacity(records.len());
    for (old, new) in records {
        let image = if new.is_empty() { old } else { new };
        let key = (text(image, "pk").unwrap_or_default(), text(image, "sk").unwrap_or_default());
        let call = queue.get_mut(&key).and_then(VecDeque::pop_front);
        let label = call.map(|c| c.label.clone()).unwrap_or(Label {
            operation: "unattributed".into(),
            actor: "-".into(),
            second: 0,
        });
        let transactional = call.is_some_and(|c| c.transactional);
        let bytes = size(old).max(size(new));
        let factor = if transactional { 2.0 } else { 1.0 };
        let mut writes = vec![PartitionWrite {
            label: label.clone(),
            target: "table".into(),
            partition: key.0.clone(),
            wcu: factor * wcu(bytes),
        }];
        for index in indexes {
            let before = projected(index, old);
            let after = projected(index, new);
            let partition = |p: &Image| text(p, &index.pk).unwrap_or_default();
            let mut push = |p: &Image| {
                writes.push(PartitionWrite {
                    label: label.clone(),
                    target: index.name.clone(),
                    partition: partition(p),
                    wcu: wcu(size(p)),
                })
            };
            match (&before, &after) {
                (Some(b), Some(a)) => {
                    let same_keys =
                        text(b, &index.pk) == text(a, &index.pk) && text(b, &index.sk) == text(a, &index.sk);
                    if !same_keys {
                        push(b);
                        push(a);
                    } else if b != a {
                        push(a);
                    }
                }
                (Some(b), None) => push(b),
                (None, Some(a)) => push(a),
                (None, None) => {}
            }
        }
        out.push(ItemWrite { label, key, bytes, writes });
    }
    out
}
