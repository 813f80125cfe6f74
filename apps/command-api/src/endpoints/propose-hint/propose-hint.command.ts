import { Command } from '@nestjs/cqrs';
import type { AIHintProposed } from '@cronicorn/events';
import type { CommandOrigin, WriteResult } from '../../resources/write-result';
import type { ProposeHintRequestDto } from './propose-hint.request.dto';

/** The hint as recorded: value clamped, `requested` set when clamping changed it. */
export type RecordedHint = Pick<AIHintProposed['data'], 'kind' | 'value' | 'requested' | 'expiresAt'>;

export class ProposeHintCommand extends Command<WriteResult & { hintId: string; hint: RecordedHint | null }> {
  constructor(
    readonly origin: CommandOrigin,
    readonly endpointId: string,
    readonly request: ProposeHintRequestDto,
  ) {
    super();
  }
}
