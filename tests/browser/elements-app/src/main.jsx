import '@ory/elements-react/theme/styles.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { LoginPage } from './LoginPage.jsx';
import { SessionPage } from './SessionPage.jsx';

function App() {
  switch (window.location.pathname) {
    case '/login':
      return <LoginPage />;
    case '/session':
      return <SessionPage />;
    default:
      window.location.replace('/session');
      return null;
  }
}

createRoot(document.getElementById('root')).render(<StrictMode><App /></StrictMode>);
