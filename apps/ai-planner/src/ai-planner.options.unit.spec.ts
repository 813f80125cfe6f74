import { ConfigError, loadConfig } from '@cronicorn/platform';
import { aiPlannerOptions } from './ai-planner.options';

const optionsWith = (env: NodeJS.ProcessEnv) => aiPlannerOptions(loadConfig('ai-planner', env));

describe('aiPlannerOptions', () => {
  it.each(['localhost:11434/v1', '127.0.0.1:8000/v1', 'ftp://llm.example/v1', 'not a url'])(
    'should refuse OPENAI_BASE_URL=%s at start, naming the variable and not repeating the value',
    (value) => {
      const load = () => optionsWith({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: value });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(/^OPENAI_BASE_URL /);
      expect(load).not.toThrow(value);
    },
  );

  it('should take an http(s) base URL, and none', () => {
    expect(optionsWith({ OPENAI_BASE_URL: ' http://localhost:11434/v1 ' }).openaiBaseUrl).toBe(
      'http://localhost:11434/v1',
    );
    expect(optionsWith({ OPENAI_BASE_URL: 'https://api.openai.com/v1' }).openaiBaseUrl).toBe(
      'https://api.openai.com/v1',
    );
    expect(optionsWith({}).openaiBaseUrl).toBeNull();
  });
});
