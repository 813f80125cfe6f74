import { CURRENT_SCHEMA_VERSION, isCronicornEventType } from './catalogue';

/** A stored event as read from the store, before upcasting. */
export interface RawStoredEvent {
  type: string;
  schemaVersion: number;
  data: unknown;
}

/** Turns the data of `type` at `fromVersion` into the shape of `fromVersion + 1`. */
export interface Upcaster {
  type: string;
  fromVersion: number;
  upcast(data: unknown): unknown;
}

/**
 * Registry of upcasters. Catalogue v1 has none yet; the store reads every event through
 * `upcast`, so adding a breaking change later means adding one entry here.
 */
export class UpcasterRegistry {
  private readonly byKey = new Map<string, Upcaster>();

  constructor(upcasters: readonly Upcaster[] = []) {
    for (const u of upcasters) this.byKey.set(`${u.type}@${u.fromVersion}`, u);
  }

  upcast<E extends RawStoredEvent>(event: E): E {
    const target = isCronicornEventType(event.type)
      ? CURRENT_SCHEMA_VERSION[event.type]
      : event.schemaVersion;
    let { data, schemaVersion } = event;
    while (schemaVersion < target) {
      const step = this.byKey.get(`${event.type}@${schemaVersion}`);
      if (!step) throw new Error(`No upcaster for ${event.type} from schema version ${schemaVersion}`);
      data = step.upcast(data);
      schemaVersion += 1;
    }
    return { ...event, data, schemaVersion };
  }
}

export const upcasters = new UpcasterRegistry([]);
