// ESLint flat config: typescript-eslint's type-aware recommended rules over
// every TypeScript file. Formatting is prettier's job (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'bench/results/', 'test/faults/runs/', '.data/', 'dist/', '.wrangler/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Durable Object handlers and NodeApi methods are async by contract even
      // when this implementation has nothing to await.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a value kept on purpose (a destructured-away field, an unused parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // This rule also asks for `res.json<T>()` instead of `(await res.json()) as T`,
      // which only hides the same unchecked cast behind a type argument.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Passing on an error that was caught (typed unknown) is fine; inventing a non-Error reason is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    // Tests and test tools read JSON answers as they come and poke at fakes;
    // requiring a type for every field there adds noise, not safety.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
