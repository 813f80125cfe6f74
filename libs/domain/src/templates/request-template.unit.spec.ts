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

  describe('When the template has no placeholders', () => {
    it('should return the same value', () => {
      const body = { a: 1, b: [true, null, 'text {not a placeholder}'] };
      expect(renderTemplate(body, context)).toEqual({ value: body, unresolved: [] });
      expect(hasPlaceholders(body)).toBe(false);
      expect(hasPlaceholders({ x: ['{{trigger.name}}'] })).toBe(true);
    });
  });
});
