import { hasPlaceholders, renderTemplate, resolvePath } from './request-template';

describe('Request template', () => {
  const context = {
    trigger: {
      name: 'order.created',
      payload: { orderId: 42, customer: { email: 'a@example.com' }, tags: ['x', 'y'] },
    },
    previousRun: { response: { json: { cursor: 'c-17' } } },
  };

  describe('When a string is exactly one placeholder', () => {
    it('should keep the referenced value and its type', () => {
      expect(renderTemplate({ id: '{{trigger.payload.orderId}}' }, context).value).toEqual({ id: 42 });
      expect(renderTemplate('{{ trigger.payload.customer }}', context).value).toEqual({
        email: 'a@example.com',
      });
    });
  });

  describe('When placeholders are inside text', () => {
    it('should interpolate them as text', () => {
      const rendered = renderTemplate(
        { note: 'order {{trigger.payload.orderId}} after {{previousRun.response.json.cursor}}' },
        context,
      );
      expect(rendered).toEqual({ value: { note: 'order 42 after c-17' }, unresolved: [] });
    });

    it('should render arrays by index and nested structures', () => {
      expect(
        renderTemplate(['{{trigger.payload.tags.1}}', { deep: ['{{trigger.name}}'] }], context).value,
      ).toEqual(['y', { deep: ['order.created'] }]);
    });
  });

  describe('When a path does not resolve', () => {
    it('should render empty and report the path', () => {
      const rendered = renderTemplate(
        { a: 'x{{trigger.payload.missing}}y', b: '{{previousRun.status}}' },
        context,
      );
      expect(rendered.value).toEqual({ a: 'xy', b: null });
      expect(rendered.unresolved.sort()).toEqual(['previousRun.status', 'trigger.payload.missing']);
    });

    it('should never walk into prototypes', () => {
      expect(resolvePath(context, 'trigger.constructor')).toBeUndefined();
      expect(resolvePath(context, 'trigger.__proto__')).toBeUndefined();
      expect(resolvePath(context, 'trigger.payload.toString')).toBeUndefined();
    });
  });

  describe('When a value holds JSON syntax or placeholders of its own', () => {
    it('should insert it as data: it can neither break the body nor be rendered again', () => {
      const hostile = '"}, "admin": true, "x": {"a": "{{previousRun.response.json.cursor}}';
      const rendered = renderTemplate(
        { whole: '{{trigger.payload.text}}', inside: 'say {{trigger.payload.text}}' },
        { ...context, trigger: { name: 't', payload: { text: hostile } } },
      );
      expect(JSON.parse(JSON.stringify(rendered.value))).toEqual({
        whole: hostile,
        inside: `say ${hostile}`,
      });
    });
  });

  describe('When a string template is JSON text (jsonText)', () => {
    const hostile = 'a "quote", a \\ backslash, {{trigger.name}} and\na line';
    const withText = {
      ...context,
      trigger: { name: 't', payload: { ...context.trigger.payload, text: hostile } },
    };

    it('should escape values inside its string literals and write the others as JSON', () => {
      const template =
        '{"note": "text: {{trigger.payload.text}}", "id": {{trigger.payload.orderId}}, "customer": {{trigger.payload.customer}}, "quoted": "{{trigger.payload.orderId}}", "escaped \\" {{trigger.payload.tags}}": {{trigger.payload.tags}}}';
      const rendered = renderTemplate(template, withText, { jsonText: true });
      expect(JSON.parse(rendered.value as string)).toEqual({
        note: `text: ${hostile}`,
        id: 42,
        customer: { email: 'a@example.com' },
        quoted: '42',
        'escaped " ["x","y"]': ['x', 'y'],
      });
      expect(rendered.unresolved).toEqual([]);
    });

    it('should keep a value in its string when a lone backslash comes right before the placeholder', () => {
      const breakOut = '"}, "admin": true, "y": "';
      const rendered = renderTemplate(
        '{"a": "p\\{{trigger.payload.text}}", "b": "\\\\{{trigger.payload.text}}"}',
        { ...context, trigger: { name: 't', payload: { text: breakOut } } },
        { jsonText: true },
      );
      expect(JSON.parse(rendered.value as string)).toEqual({ a: `p\\${breakOut}`, b: `\\${breakOut}` });
    });

    it('should write an unknown path as null outside a string and as nothing inside one', () => {
      const rendered = renderTemplate('[{{trigger.payload.nope}}, "x{{trigger.payload.nope}}y"]', context, {
        jsonText: true,
      });
      expect(JSON.parse(rendered.value as string)).toEqual([null, 'xy']);
      expect(rendered.unresolved).toEqual(['trigger.payload.nope']);
    });

    it('should write a body that is one placeholder as JSON text of its value', () => {
      const render = (template: string) => renderTemplate(template, withText, { jsonText: true }).value;
      expect(render('{{trigger.payload.text}}')).toBe(JSON.stringify(hostile));
      expect(render('{{ trigger.payload.customer }}')).toBe('{"email":"a@example.com"}');
      expect(render('{{trigger.payload.nope}}')).toBe('null');
    });

    it('should leave a plain text template as text', () => {
      expect(renderTemplate('say "{{trigger.name}}"', withText).value).toBe('say "t"');
    });
  });

  describe('When the placeholders would insert more than 1,048,576 characters', () => {
    const limit = 1024 * 1024;
    const payload = 'x'.repeat(32 * 1024);
    const copies = Math.ceil(limit / payload.length) + 1;
    const big = { trigger: { name: 't', payload } };

    it.each([
      ['whole values', Array.from({ length: copies }, () => '{{trigger.payload}}')],
      ['text', '{{trigger.payload}}'.repeat(copies)],
    ])('should refuse to render %s', (_kind, template) => {
      expect(() => renderTemplate(template, big)).toThrow(
        expect.objectContaining({ code: 'TEMPLATE.TOO_LARGE' }),
      );
    });

    it('should render a body just within it', () => {
      const within = Array.from(
        { length: Math.floor(limit / (payload.length + 2)) },
        () => '{{trigger.payload}}',
      );
      expect(renderTemplate(within, big).value).toHaveLength(within.length);
    });
  });

  describe('When the template has no placeholders', () => {
    it('should return the same value', () => {
      const body = { a: 1, b: [true, null, 'text {not a placeholder}'] };
      expect(renderTemplate(body, context)).toEqual({ value: body, unresolved: [] });
      expect(hasPlaceholders(body)).toBe(false);
      expect(hasPlaceholders({ x: ['{{trigger.name}}'] })).toBe(true);
    });
  });
});
