// Flat config: `npx eslint .` from crates/web/ui.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/**'] },
  js.configs.recommended,
  {
    files: ['static/**/*.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.browser } },
    rules: {
      // Packet data reaches the DOM as text only.
      'no-restricted-properties': ['error',
        { property: 'innerHTML', message: 'use textContent / h()' },
        { property: 'outerHTML', message: 'use textContent / h()' },
        { property: 'insertAdjacentHTML', message: 'use h()' },
        { object: 'document', property: 'write', message: 'use h()' },
        { object: 'document', property: 'writeln', message: 'use h()' },
      ],
      'no-restricted-syntax': ['error',
        { selector: "AssignmentExpression[left.property.name='innerHTML']", message: 'use textContent / h()' },
        { selector: "AssignmentExpression[left.property.name='outerHTML']", message: 'use textContent / h()' },
      ],
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
    },
  },
  {
    files: ['e2e/**/*.mjs', 'e2e/**/*.js', 'eslint.config.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_' }] },
  },
];
