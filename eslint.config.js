// One lint setup for the repository: ESLint's and typescript-eslint's recommended rules,
// formatting left to Prettier (eslint-config-prettier turns off the rules that overlap).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'scratch/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: '.only is forbidden: it hides the rest of the suite' },
        {
          object: 'describe',
          property: 'only',
          message: '.only is forbidden: it hides the rest of the suite',
        },
        { object: 'test', property: 'only', message: '.only is forbidden: it hides the rest of the suite' },
      ],
    },
  },
  prettier,
);
