import type { MessageFilter } from '../../ports/listing';

/** DynamoDB allows at most 100 operands in one `IN`. */
const MAX_IN_OPERANDS = 100;

/** The parts of a request that name attributes and values in expressions. */
export type ExpressionParts = {
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
};

/**
 * Builds expressions with every attribute name and value as a placeholder, so reserved words
 * (`state`, `status`, `path`, ...) and any value are safe. One builder serves all the expressions
 * of one request, which share their placeholders.
 */
export class ExpressionBuilder {
  readonly #names = new Map<string, string>();
  readonly #values: Record<string, unknown> = {};
  #valueCount = 0;

  name(attribute: string): string {
    let placeholder = this.#names.get(attribute);
    if (placeholder === undefined) {
      placeholder = `#n${this.#names.size}`;
      this.#names.set(attribute, placeholder);
    }
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.#valueCount}`;
    this.#valueCount += 1;
    this.#values[placeholder] = value;
    return placeholder;
  }

  /** `attribute IN (...)`, split into ORed INs of at most 100 operands. */
  in(attribute: string, values: readonly unknown[]): string {
    const name = this.name(attribute);
    const groups: string[] = [];
    for (let start = 0; start < values.length; start += MAX_IN_OPERANDS) {
      const operands = values.slice(start, start + MAX_IN_OPERANDS).map((v) => this.value(v));
      groups.push(`${name} IN (${operands.join(', ')})`);
    }
    return groups.length === 1 ? groups[0]! : `(${groups.join(' OR ')})`;
  }

  parts(): ExpressionParts {
    return {
      ...(this.#names.size > 0 && {
        ExpressionAttributeNames: Object.fromEntries(
          [...this.#names].map(([attribute, placeholder]) => [placeholder, attribute]),
        ),
      }),
      ...(this.#valueCount > 0 && { ExpressionAttributeValues: this.#values }),
    };
  }
}

/** Joins conditions with AND; undefined when there are none. */
export function allOf(conditions: readonly string[]): string | undefined {
  return conditions.length === 0 ? undefined : conditions.map((c) => `(${c})`).join(' AND ');
}

/** A filter that selects nothing, so no request needs to be made. */
export const MATCHES_NOTHING = Symbol('matches nothing');

/** One list filter and the attribute it matches on. */
export type ListCondition = { readonly attribute: string; readonly values?: readonly unknown[] };

/**
 * The conditions of a MessageFilter (OR within a filter, AND across filters) on the attributes
 * `messageFilterAttributes` writes, plus any `extra` lists. `fromDate`/`toDate` are left to the
 * caller, who bounds a key with them or passes `dateAttribute`.
 */
export function messageFilterConditions(
  builder: ExpressionBuilder,
  filter: MessageFilter,
  options: { readonly extra?: readonly ListCondition[]; readonly dateAttribute?: string } = {},
): string[] | typeof MATCHES_NOTHING {
  const lists: ListCondition[] = [
    { attribute: 'messageId', values: filter.messageIds },
    { attribute: 'url', values: filter.url },
    { attribute: 'host', values: filter.host },
    { attribute: 'path', values: filter.path },
    { attribute: 'topicName', values: filter.topicName },
    { attribute: 'queueName', values: filter.queueName },
    { attribute: 'scheduleId', values: filter.scheduleId },
    { attribute: 'callerIp', values: filter.callerIp },
    { attribute: 'flowControlKey', values: filter.flowControlKey },
    ...(options.extra ?? []),
  ];
  const conditions: string[] = [];
  for (const { attribute, values } of lists) {
    if (values === undefined) continue;
    if (values.length === 0) return MATCHES_NOTHING;
    conditions.push(builder.in(attribute, values));
  }
  if (filter.label !== undefined) {
    if (filter.label.length === 0) return MATCHES_NOTHING;
    const labels = builder.name('labels');
    conditions.push(
      filter.label.map((label) => `contains(${labels}, ${builder.value(label)})`).join(' OR '),
    );
  }
  const { dateAttribute } = options;
  if (dateAttribute !== undefined && filter.fromDate !== undefined) {
    conditions.push(`${builder.name(dateAttribute)} >= ${builder.value(filter.fromDate)}`);
  }
  if (dateAttribute !== undefined && filter.toDate !== undefined) {
    conditions.push(`${builder.name(dateAttribute)} <= ${builder.value(filter.toDate)}`);
  }
  return conditions;
}
