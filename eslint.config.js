import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.roster-data/', 'scratch/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The console's one browser script (src/console/static/) runs in the browser, not in Node.
  { files: ['src/console/static/**/*.js'], languageOptions: { globals: { document: 'readonly', window: 'readonly', HTMLFormElement: 'readonly' } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
);
